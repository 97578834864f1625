"""From a dataset's pictures to one embedding each: which face, and failures to acquire.

Each unique image is embedded once per pack (``embed_images``; the Ray engine and the
embedding cache embed picture by picture with ``embed_picture`` and ``stack_embeddings``).
A picture that cannot be read, or has no face, gets no embedding and a failure class (never
its file name); ``bench.accuracy`` scores what was acquired.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bench import optional
from bench.datasets import Dataset
from gate.errors import FaceError, GateError, ImageError, InputError, NoFaceError
from gate.types import Face, ImageBGR


class Engine(Protocol):
    """What the harness needs from a face engine (``models.engine.FaceEngine`` fits)."""

    @property
    def pack_id(self) -> str: ...

    @property
    def distance_name(self) -> str: ...

    def embed_one(self, image: ImageBGR) -> Face: ...

    def distances(self, a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]: ...

    def distance_matrix(
        self, a: npt.ArrayLike, b: npt.ArrayLike
    ) -> npt.NDArray[np.floating[Any]]: ...

    def threshold(self, fmr: str = ...) -> float: ...


@dataclass(frozen=True)
class Embeddings:
    """One row per dataset image; rows of images that failed to acquire are zeros."""

    vectors: npt.NDArray[np.float32]
    acquired: npt.NDArray[np.bool_]
    failure_reasons: dict[str, int]
    seconds: float
    embedded: int | None = None  # images embedded in ``seconds`` (the rest came from a cache)
    row_reasons: tuple[str, ...] = ()  # per image: its failure class, "" when acquired

    @property
    def fta_count(self) -> int:
        return int(np.count_nonzero(~self.acquired))


def upsampled(image: ImageBGR, times: int) -> ImageBGR:
    """The picture doubled ``times`` times (bilinear), like dlib's upsample_num_times."""
    if times <= 0:
        return image
    import cv2

    factor = float(2**times)
    out = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out, dtype=np.uint8)


FACE_CHOICES = ("centre", "largest")


@dataclass(frozen=True)
class EmbedOptions:
    """How each dataset picture becomes one embedding (the same for every pack compared).

    ``upsample``: double the picture that many times first, for datasets whose faces are
    smaller than the pack's detector finds. ``face``: which face when there are several:
    the one nearest the picture's centre (datasets label the centred person, as LFW does)
    or the largest (the gate's own policy).
    """

    upsample: int = 0
    face: str = "centre"

    def describe(self) -> dict[str, Any]:
        return {"upsample": self.upsample, "face": self.face}


DEFAULT_OPTIONS = EmbedOptions()


def _embed_centre_face(engine: Any, image: ImageBGR) -> Face:
    """The face whose box centre is nearest the picture's centre, embedded."""
    if not (hasattr(engine, "analyze") and hasattr(engine, "embed")):
        raise InputError(f"pack {engine.pack_id}: its engine cannot list faces (face=centre)")
    faces = engine.analyze(image)
    if not faces:
        raise NoFaceError("no face found")
    cy, cx = float(image.shape[0]) / 2.0, float(image.shape[1]) / 2.0

    def off_centre(face: Face) -> float:
        box = face.detection.box
        dx = (float(box.left) + float(box.right)) / 2 - cx
        dy = (float(box.top) + float(box.bottom)) / 2 - cy
        return dx * dx + dy * dy

    chosen: Face = min(faces, key=off_centre)
    embedding = np.asarray(engine.embed(image, [chosen])[0], dtype=np.float32)
    return replace(chosen, embedding=embedding)


def check_options(options: EmbedOptions) -> None:
    if options.face not in FACE_CHOICES:
        raise InputError(
            f"face choice must be one of {', '.join(FACE_CHOICES)}, got {options.face!r}"
        )


def embed_picture(
    engine: Engine, image: ImageBGR, options: EmbedOptions
) -> tuple[npt.NDArray[np.float32] | None, str]:
    """One decoded picture's embedding, or None and the failure class (never the file)."""
    try:
        picture = upsampled(image, options.upsample)
        if options.face == "centre":
            face = _embed_centre_face(engine, picture)
        else:
            face = engine.embed_one(picture)
    except (FaceError, ImageError) as exc:
        return None, _reason(exc)
    if face.embedding is None:
        return None, "no embedding"
    return np.asarray(face.embedding, dtype=np.float32).reshape(-1), ""


def stack_embeddings(
    vectors: Sequence[npt.NDArray[np.float32] | None],
    reasons: Sequence[str],
    seconds: float,
    embedded: int | None = None,
) -> Embeddings:
    """``Embeddings`` from one optional vector and one failure class per image."""
    acquired = np.array([v is not None for v in vectors], dtype=np.bool_)
    width = next((v.size for v in vectors if v is not None), 0)
    matrix = np.zeros((len(vectors), width), dtype=np.float32)
    for row, vector in enumerate(vectors):
        if vector is not None:
            matrix[row] = vector
    rows = tuple("" if ok else reason for reason, ok in zip(reasons, acquired, strict=True))
    failures = Counter(reason for reason in rows if reason)
    return Embeddings(matrix, acquired, dict(failures), seconds, embedded, rows)


def embed_images(
    engine: Engine,
    dataset: Dataset,
    progress: bool = True,
    options: EmbedOptions = EmbedOptions(),
) -> Embeddings:
    """Embed every unique image once, with a progress bar on stderr."""
    check_options(options)
    vectors: list[npt.NDArray[np.float32] | None] = []
    reasons: list[str] = []
    started = time.perf_counter()
    for ref in optional.progress(
        dataset.images, desc=f"embed {engine.pack_id}", unit="img", enabled=progress
    ):
        try:
            image = ref.load()
        except ImageError as exc:
            vectors.append(None)
            reasons.append(_reason(exc))
            continue
        vector, reason = embed_picture(engine, image, options)
        vectors.append(vector)
        reasons.append(reason)
    return stack_embeddings(vectors, reasons, time.perf_counter() - started)


def _reason(exc: GateError) -> str:
    """A failure class for the report, never the file name (kept out of logs and JSON)."""
    text = str(exc).lower()
    for words in ("no face", "more than one", "several", "too small", "too large"):
        if words in text:
            return f"{type(exc).__name__}: {words}"
    return type(exc).__name__
