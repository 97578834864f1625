"""Face photos for simulated travellers: files, or faces cut out of the sample photos.

A scenario names a photo either by path or as ``sample:NAME[#INDEX]``: a picture shipped in
the insightface wheel, and for group photos the INDEX-th face from the left. Every photo is
turned into a passport-style portrait (the face centred where the synthetic camera expects
it) by mapping the detected 5 points onto the synthetic scene's template.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from gate.errors import ConfigError, ImageError
from gate.images import load_image
from gate.types import Face, ImageBGR

PORTRAIT_SIZE = (240, 300)  # width, height: ICAO-like 4:5
Analyze = Callable[[ImageBGR], Sequence[Face]]


def sample_folder() -> Path:
    import insightface

    return Path(insightface.__file__).parent / "data" / "images"


def read_image(path: Path) -> ImageBGR:
    """A photo through the hardened file reader and the one image decoder (a file name that
    is not UTF-8 is opened as bytes, never handed to OpenCV as text)."""
    return load_image(path)


def _portrait_template(width: int, height: int) -> np.ndarray:
    from drivers.camera.synthetic import guess_landmarks

    return guess_landmarks(np.zeros((height, width, 3), np.uint8))


def to_portrait(image: ImageBGR, face: Face) -> ImageBGR:
    """Warp ``image`` so that ``face``'s 5 points land on the synthetic portrait template."""
    import cv2

    width, height = PORTRAIT_SIZE
    target = _portrait_template(width, height).astype(np.float32)
    source = face.landmarks.as_array().astype(np.float32)
    matrix, _ = cv2.estimateAffinePartial2D(source, target, method=cv2.LMEDS)
    if matrix is None:
        raise ImageError("cannot align the face to a portrait")
    out = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out, dtype=np.uint8)


class PhotoLibrary:
    """Resolves scenario photo names to portraits, detecting each source picture once."""

    def __init__(self, analyze: Analyze) -> None:
        self._analyze = analyze
        self._faces: dict[str, tuple[ImageBGR, list[Face]]] = {}
        self._portraits: dict[str, ImageBGR] = {}

    def _faces_of(self, key: str, path: Path) -> tuple[ImageBGR, list[Face]]:
        if key not in self._faces:
            import cv2

            image = read_image(path)
            # Small pictures (the 112x112 aligned sample) are padded and enlarged so the
            # detector, which wants faces of about 80 px and more, finds them.
            if min(image.shape[:2]) < 300:
                pad = image.shape[0] // 3
                padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
                scale = 400 / min(padded.shape[:2])
                big = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
                image = np.ascontiguousarray(big, dtype=np.uint8)
            faces = sorted(self._analyze(image), key=lambda f: f.detection.box.left)
            self._faces[key] = (image, faces)
        return self._faces[key]

    def portrait(self, name: str) -> ImageBGR:
        if name in self._portraits:
            return self._portraits[name]
        index = 0
        if name.startswith("sample:"):
            file_part, _, index_part = name[len("sample:") :].partition("#")
            path = sample_folder() / file_part
            if not path.is_file():
                raise ConfigError(
                    f"photo {name!r}: no sample picture {file_part!r} in {path.parent}"
                )
            if index_part:
                if not (index_part.isascii() and index_part.isdigit()):
                    raise ConfigError(f"photo {name!r}: face index {index_part!r} is not a number")
                index = int(index_part)
        else:
            path = Path(name)
        image, faces = self._faces_of(str(path), path)
        if not faces:
            raise ImageError(f"photo {name!r}: no face found")
        if index >= len(faces):
            raise ConfigError(f"photo {name!r}: face #{index} asked, only {len(faces)} found")
        self._portraits[name] = to_portrait(image, faces[index])
        return self._portraits[name]
