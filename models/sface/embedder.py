"""SFace on onnxruntime: 112x112 aligned chips (uint8 BGR, converted to RGB here) to 128-D."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gate.types import FloatArray, ImageBGR
from models.onnx_session import OnnxSession

EMBEDDING_SIZE = 128


class SfaceEmbedder:
    """``Embedder``: the graph normalises pixels itself; it takes RGB 0..255 floats, batch 1."""

    embedding_size = EMBEDDING_SIZE

    def __init__(self, path: Path, threads: int = 0) -> None:
        self._session = OnnxSession(path, threads=threads)
        self._input = self._session.input_names[0]

    def embed(self, chips: Sequence[ImageBGR]) -> FloatArray:
        out = np.zeros((len(chips), EMBEDDING_SIZE), np.float32)
        for index, chip in enumerate(chips):
            blob = np.ascontiguousarray(chip[:, :, ::-1].transpose(2, 0, 1)[None], np.float32)
            out[index] = self._session.run({self._input: blob})[0].reshape(-1)
        return out
