"""Classify MRZ character cells: a probability for each character of ``ALPHABET``.

``TemplateClassifier`` compares each cell with the font's own clean glyphs (normalised
correlation); it needs nothing but the font.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

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
