"""Face photos for simulated travellers: files, or faces cut out of the sample photos.

A scenario names a photo either by path or as ``sample:NAME[#INDEX]``: a picture shipped in
the insightface wheel, and for group photos the INDEX-th face from the left. Every photo is
turned into a passport-style portrait (the face centred where the synthetic camera expects
it) by mapping the detected 5 points onto the synthetic scene's template.

The live face of a genuine traveller is the photo itself (``PhotoLibrary.live``): the
original pixels around the face, cut wide enough for the whole head but clear of any other
face in a group photo, with the 5 points where they are in that cut.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gate.errors import ConfigError, ImageError
from gate.images import load_image
from gate.types import Face, ImageBGR

PORTRAIT_SIZE = (240, 300)  # width, height: ICAO-like 4:5
# The chip's photo (DG2): the head with hair and shoulders, as an ICAO portrait shows it
# (head about half the width), eye distance 85 px. The tighter scene portrait as the chip
# photo cost identity: on 20 lfw-dev genuine pairs the chip side alone moved the matcher's
# distance by +0.14 fused units in the median (p90 +0.39, max +0.84); this one by -0.02
# (p90 +0.16, max +0.24).
CHIP_SIZE = (360, 450)
CHIP_FACE_SHARE = 0.45  # the 5-point template's span, a share of the width (portrait: 0.6)
Analyze = Callable[[ImageBGR], Sequence[Face]]


def sample_folder() -> Path:
    """The sample photos inside the insightface wheel, found without importing insightface
    (its import takes more than a second of CPU in every simulation's process)."""
    import importlib.util

    spec = importlib.util.find_spec("insightface")
    if spec is None or spec.origin is None:
        import insightface  # not installed: its usual ImportError

        return Path(insightface.__file__).parent / "data" / "images"
    return Path(spec.origin).parent / "data" / "images"


def read_image(path: Path) -> ImageBGR:
    """A photo through the hardened file reader and the one image decoder (a file name that
    is not UTF-8 is opened as bytes, never handed to OpenCV as text)."""
    return load_image(path)


def _portrait_template(width: int, height: int) -> np.ndarray:
    from drivers.camera.synthetic import guess_landmarks

    return guess_landmarks(np.zeros((height, width, 3), np.uint8))


def _chip_template(width: int, height: int) -> np.ndarray:
    """The portrait template shrunk about the picture's centre to ``CHIP_FACE_SHARE``."""
    centre = np.array([width / 2, height / 2])
    ratio = CHIP_FACE_SHARE / 0.6  # guess_landmarks spans 0.6 of the width
    return np.asarray(centre + (_portrait_template(width, height) - centre) * ratio)


def to_portrait(image: ImageBGR, face: Face, chip: bool = False) -> ImageBGR:
    """Warp ``image`` so that ``face``'s 5 points land on the synthetic portrait template
    (``chip``: on the chip photo's, with more of the head around the face)."""
    import cv2

    width, height = CHIP_SIZE if chip else PORTRAIT_SIZE
    template = _chip_template if chip else _portrait_template
    target = template(width, height).astype(np.float32)
    source = face.landmarks.as_array().astype(np.float32)
    matrix, _ = cv2.estimateAffinePartial2D(source, target, method=cv2.LMEDS)
    if matrix is None:
        raise ImageError("cannot align the face to a portrait")
    out = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out, dtype=np.uint8)


# How much of the photo around the face the live traveller keeps, in eye distances from
# the eyes' midpoint: the whole head with hair, and the shoulders.
LIVE_CUT = (2.6, 2.4, 3.4)  # sideways, up, down


def _live_cut(image: ImageBGR, faces: Sequence[Face], index: int) -> tuple[ImageBGR, np.ndarray]:
    """The photo around face ``index``, clear of the other faces' boxes, and its 5 points
    in the cut."""
    points = faces[index].landmarks.as_array()
    eye_a, eye_b = points[0:2].mean(axis=0), points[2:4].mean(axis=0)
    mid = (eye_a + eye_b) / 2
    d = max(1.0, float(np.linalg.norm(eye_a - eye_b)))
    side, up, down = LIVE_CUT
    h, w = image.shape[:2]
    x0, x1 = mid[0] - side * d, mid[0] + side * d
    y0, y1 = mid[1] - up * d, mid[1] + down * d
    own = faces[index].detection.box
    ox, oy = (own.left + own.right) / 2, (own.top + own.bottom) / 2
    for number, face in enumerate(faces):
        box = face.detection.box
        grow = 0.3 * box.width  # the neighbour's hair and ears too
        if number == index or (
            box.right + grow < x0
            or box.left - grow > x1
            or box.bottom + grow < y0
            or box.top - grow > y1
        ):
            continue
        # a neighbour: keep only a narrow margin beyond the traveller's own face on that side
        dx, dy = (box.left + box.right) / 2 - ox, (box.top + box.bottom) / 2 - oy
        if abs(dx) >= abs(dy):
            if dx > 0:
                x1 = min(x1, own.right + 0.3 * d)
            else:
                x0 = max(x0, own.left - 0.3 * d)
        elif dy > 0:
            y1 = min(y1, own.bottom + 0.3 * d)
        else:
            y0 = max(y0, own.top - 0.3 * d)
    left, right = max(0, int(x0)), min(w, math.ceil(x1))
    top, bottom = max(0, int(y0)), min(h, math.ceil(y1))
    if right - left < 32 or bottom - top < 32:
        raise ImageError("the face is too close to another one to cut it out")
    cut = np.ascontiguousarray(image[top:bottom, left:right])
    return cut, points - np.array([left, top], dtype=np.float64)


_BLURS_KEPT = 6
Blurred = Callable[[float], np.ndarray]  # the whole picture blurred with this sigma (float32)


def without_others(
    image: ImageBGR, faces: Sequence[Face], index: int, blurred: Blurred | None = None
) -> ImageBGR:
    """The picture with every face but ``index`` defocused beyond recognition (a bystander
    must neither be enrolled nor stand in the lane beside the traveller). ``blurred`` gives
    the whole picture blurred (a library blurs each picture once per strength); only the
    pixels around the other faces are mixed, the rest is ``image`` unchanged."""
    import cv2

    if len(faces) < 2:
        return image
    h, w = image.shape[:2]
    boxes: list[tuple[int, int, int, int]] = []
    widest = 1.0
    for number, face in enumerate(faces):
        if number == index:
            continue
        box = face.detection.box
        grow = 0.15 * box.width
        x0, y0 = max(0, int(box.left - grow)), max(0, int(box.top - grow))
        x1, y1 = min(w, int(box.right + grow)), min(h, int(box.bottom + grow))
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1, y1))
            widest = max(widest, box.width)
    if not boxes:
        return image
    soft_sigma, blur_sigma = max(1.0, 0.08 * widest), max(2.0, 0.25 * widest)
    # The soft mask reaches its kernel's radius (OpenCV: 4 sigma for float pictures) beyond
    # the boxes; cut twice that wide, the region's mask blurs exactly as the whole picture's
    # would, and every pixel outside it would be mixed with weight 0.
    reach = 2 * (round(soft_sigma * 8 + 1) | 1) + 4
    left, top = max(0, min(b[0] for b in boxes) - reach), max(0, min(b[1] for b in boxes) - reach)
    right, bottom = (
        min(w, max(b[2] for b in boxes) + reach),
        min(h, max(b[3] for b in boxes) + reach),
    )
    mask = np.zeros((bottom - top, right - left), np.float32)
    for x0, y0, x1, y1 in boxes:
        mask[y0 - top : y1 - top, x0 - left : x1 - left] = 1.0
    own = faces[index].detection.box
    x0, y0 = max(0, int(own.left) - left), max(0, int(own.top) - top)
    x1, y1 = (
        max(0, min(w, math.ceil(own.right)) - left),
        max(0, min(h, math.ceil(own.bottom)) - top),
    )
    mask[y0:y1, x0:x1] = 0.0  # the traveller's own face stays whole
    if not mask.any():
        return image
    if blurred is None:
        whole = cv2.GaussianBlur(image.astype(np.float32), (0, 0), blur_sigma)
    else:
        whole = blurred(blur_sigma)
    soft = np.asarray(cv2.GaussianBlur(mask, (0, 0), soft_sigma), np.float32)[..., None]
    out = image.copy()
    spread = reach // 2  # the soft mask is 0 further than this from every box
    for x0, y0, x1, y1 in boxes:
        x0, y0 = max(left, x0 - spread), max(top, y0 - spread)
        x1, y1 = min(right, x1 + spread), min(bottom, y1 + spread)
        weight = soft[y0 - top : y1 - top, x0 - left : x1 - left]
        mixed = image[y0:y1, x0:x1].astype(np.float32) * (1 - weight) + whole[y0:y1, x0:x1] * weight
        out[y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class _Picture:
    """A source picture as the detector saw it (padded, enlarged) and as it is."""

    image: ImageBGR  # what the detector saw
    faces: list[Face]  # in ``image``'s pixels, left to right
    original: ImageBGR
    pad: int
    scale: float


class PhotoLibrary:
    """Resolves scenario photo names to portraits, detecting each source picture once."""

    def __init__(self, analyze: Analyze) -> None:
        self._analyze = analyze
        self._faces: dict[str, _Picture] = {}
        self._portraits: dict[str, ImageBGR] = {}
        self._chips: dict[str, ImageBGR] = {}
        self._live: dict[str, tuple[ImageBGR, np.ndarray]] = {}
        self._blurred: dict[tuple[int, float], tuple[ImageBGR, np.ndarray]] = {}

    def _faces_of(self, key: str, path: Path) -> _Picture:
        """The picture and its faces; a small picture is padded and enlarged for the
        detector (the portrait is cut from that, the live face from the original)."""
        if key not in self._faces:
            import cv2

            image = read_image(path)
            original = image
            pad, scale = 0, 1.0
            # Small pictures (the 112x112 aligned sample) are padded and enlarged so the
            # detector, which wants faces of about 80 px and more, finds them.
            if min(image.shape[:2]) < 300:
                pad = image.shape[0] // 3
                padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
                scale = 400 / min(padded.shape[:2])
                big = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
                image = np.ascontiguousarray(big, dtype=np.uint8)
            faces = sorted(self._analyze(image), key=lambda f: f.detection.box.left)
            self._faces[key] = _Picture(image, faces, original, pad, scale)
        return self._faces[key]

    def portrait(self, name: str) -> ImageBGR:
        if name in self._portraits:
            return self._portraits[name]
        picture, index = self._face(name)
        image = without_others(picture.image, picture.faces, index, self._blur_of(picture.image))
        self._portraits[name] = to_portrait(image, picture.faces[index])
        return self._portraits[name]

    def chip_photo(self, name: str) -> ImageBGR:
        """The passport's photo (DG2): the face aligned on ``CHIP_SIZE``'s template."""
        if name not in self._chips:
            picture, index = self._face(name)
            image = without_others(
                picture.image, picture.faces, index, self._blur_of(picture.image)
            )
            self._chips[name] = to_portrait(image, picture.faces[index], chip=True)
        return self._chips[name]

    def live(self, name: str) -> tuple[ImageBGR, np.ndarray]:
        """The photo's own pixels around the face (``LIVE_CUT``) and its 5 points there."""
        if name not in self._live:
            picture, index = self._face(name)
            faces = [_unscaled(face, picture.pad, picture.scale) for face in picture.faces]
            image = without_others(picture.original, faces, index, self._blur_of(picture.original))
            self._live[name] = _live_cut(image, faces, index)
        return self._live[name]

    def _blur_of(self, image: ImageBGR) -> Blurred:
        """``image`` blurred whole, once per strength (the faces of one group photo are hidden
        with the same blur for each traveller cut from it)."""
        import cv2

        def blurred(sigma: float) -> np.ndarray:
            key = (id(image), sigma)  # the entry holds the image: its id stays its own
            if key not in self._blurred:
                if len(self._blurred) >= _BLURS_KEPT:  # a data set's photos: the latest only
                    del self._blurred[next(iter(self._blurred))]
                whole = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)
                self._blurred[key] = (image, whole)
            return self._blurred[key][1]

        return blurred

    def _face(self, name: str) -> tuple[_Picture, int]:
        """The picture, its faces (left to right) and the chosen one: the INDEX-th of a
        ``sample:NAME#INDEX``, else the largest (a bystander in a data set's photo is not
        the person it is labelled with; the matcher takes the largest face too)."""
        index: int | None = None
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
        picture = self._faces_of(str(path), path)
        image, faces = picture.image, picture.faces
        if not faces:
            raise ImageError(f"photo {name!r}: no face found")
        if index is None:
            index = _main_face(image, faces)
        if index >= len(faces):
            raise ConfigError(f"photo {name!r}: face #{index} asked, only {len(faces)} found")
        return picture, index


def _main_face(image: ImageBGR, faces: Sequence[Face]) -> int:
    """The largest face; among faces about as large (within 15 %), the most central one
    (a data set's subject is centred, a bystander at the edge may be cut larger)."""
    largest = max(face.detection.box.area for face in faces)
    h, w = image.shape[:2]

    def off_centre(i: int) -> float:
        box = faces[i].detection.box
        return math.hypot((box.left + box.right) / 2 - w / 2, (box.top + box.bottom) / 2 - h / 2)

    near = [i for i, face in enumerate(faces) if face.detection.box.area >= 0.85 * largest]
    return min(near, key=off_centre)


def _unscaled(face: Face, pad: int, scale: float) -> Face:
    """A face found in the padded, enlarged picture, in the original picture's pixels."""
    from dataclasses import replace

    if pad == 0 and scale == 1.0:
        return face
    from gate.types import Box, Landmarks5

    def back(x: float, y: float) -> tuple[float, float]:
        return x / scale - pad, y / scale - pad

    points = tuple(back(x, y) for x, y in face.landmarks.points)
    box = face.detection.box
    (left, top), (right, bottom) = back(box.left, box.top), back(box.right, box.bottom)
    own = face.detection.landmarks
    detection = replace(
        face.detection,
        box=Box(left, top, right, bottom),
        landmarks=None if own is None else tuple(back(x, y) for x, y in own),
    )
    return replace(face, detection=detection, landmarks=Landmarks5(points))
