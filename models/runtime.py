"""A pack's opened models (``PackRuntime``): what each pack kind's ``open_runtime`` returns.

Its own module, below both the face engine and the pack kinds' modules: the engine opens a
pack through its kind's module, and those modules build a ``PackRuntime``, so neither has to
import the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gate.interfaces import Embedder, FaceDetector, LandmarkModel
from gate.types import Face, FloatArray, ImageBGR, Landmarks5

Aligner = Callable[[ImageBGR, Landmarks5], ImageBGR]
# Embeds faces straight from the picture and their points: for a pack whose models each cut
# a chip of their own (fusion), where one aligned chip per face does not fit.
FaceEmbedder = Callable[[ImageBGR, Sequence[Face]], FloatArray]


@dataclass(frozen=True)
class PackRuntime:
    """The opened models of a pack. ``landmarks`` None: the detector gives the 5 points."""

    detector: FaceDetector
    landmarks: LandmarkModel | None
    aligner: Aligner
    embedder: Embedder
    face_embedder: FaceEmbedder | None = None  # set: ``FaceEngine.embed`` uses it instead
    # The detector gives its own 5 points and finds a face in a small region around the
    # last one (``FaceEngine.track``); MMOD, which needs large windows, does not.
    trackable: bool = False
