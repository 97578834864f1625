"""Classify MRZ character cells: a probability for each character of ``ALPHABET``.

``OnnxClassifier`` is the reader's model: a small perceptron trained on cells cut by the
reader itself from rendered, degraded pages (``bench/mrz_train.py``), shipped as an ONNX file
whose sha256 is pinned here. ``TemplateClassifier`` compares each cell with the font's own
clean glyphs (normalised correlation); it needs nothing but the font, and serves to bootstrap
the training.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np

from gate.errors import ModelError
from gate.page.glyphs import templates
from gate.page.segment import Floats


class CellClassifier(Protocol):
    def probabilities(self, cells: Floats) -> Floats:
        """(n, CELL_H, CELL_W) cells -> (n, len(ALPHABET)) probabilities."""
        ...


def _normalise(cells: Floats) -> Floats:
    flat = cells.reshape(len(cells), -1).astype(np.float32)
    flat = flat - flat.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    return np.asarray(flat / np.maximum(norm, 1e-6), np.float32)


class TemplateClassifier:
    """Normalised correlation with the clean glyphs; a softmax turns it into probabilities."""

    def __init__(self, sharpness: float = 30.0) -> None:
        self._templates = _normalise(templates())
        self._sharpness = sharpness

    def probabilities(self, cells: Floats) -> Floats:
        scores = _normalise(cells) @ self._templates.T * self._sharpness
        scores -= scores.max(axis=1, keepdims=True)
        odds = np.exp(scores)
        return np.asarray(odds / odds.sum(axis=1, keepdims=True), np.float32)


MODEL = Path(__file__).resolve().parent / "mrz_glyphs.onnx"
# The committed model's digest (bench/mrz_train.py writes the file and prints it).
MODEL_SHA256 = "7ffb4fdfb26e9731de5e5138a3b0baaecebb5cc68b789fbfa158a76941648f7d"


class OnnxClassifier:
    """The trained OCR-B character model (a small perceptron, ``mrz_glyphs.onnx``), checked
    against its pinned sha256 before it is loaded; one thread (a page is ~100 cells)."""

    def __init__(self, path: Path = MODEL, sha256: str | None = None) -> None:
        from models.onnx_session import OnnxSession

        pinned = MODEL_SHA256 if sha256 is None else sha256
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"MRZ character model {path}: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != pinned:
            raise ModelError(f"MRZ character model {path}: sha256 does not match the pinned one")
        self._session = OnnxSession(data, threads=1, label=str(path))

    def probabilities(self, cells: Floats) -> Floats:
        flat = np.ascontiguousarray(cells.reshape(len(cells), -1), np.float32)
        return np.asarray(self._session.run({"cells": flat})[0], np.float32)
