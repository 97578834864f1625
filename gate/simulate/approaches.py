"""Approach datasets: travellers who bring their own captured approach to the camera.

A folder of ``<traveller>/chip.jpg`` (the passport portrait) with ``<traveller>/approach.mp4``
or a frame folder ``<traveller>/approach/`` (pictures in name order) is a dataset for
``egate simulate --dataset``: each traveller's passport is issued with ``chip.jpg`` and the
camera shows the traveller's own approach instead of a rendered one (lock-step, as the
rendered scenes: frame n is the gate's n-th read). With two travellers or more, each
passport is also presented by the next traveller's approach: a zero-effort impostor.

Frames are fitted into the simulated camera's 640x480 picture (aspect kept, grey borders).
Every file is read through the values layer (``gate.images``, ``gate.files``): a FIFO, a
device or an oversized file is refused with one line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from gate.errors import InputError
from gate.files import kind_of
from gate.images import FILE_LIMITS, ImageLimits, load_image
from gate.outcome import Decision
from gate.simulate.scenario import Scenario, TravellerSpec
from gate.types import ImageBGR

CHIP = "chip.jpg"
VIDEO = "approach.mp4"
FRAMES = "approach"
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_FRAMES = 300  # ten seconds of a 30 fps camera: more than any capture window reads
MAX_VIDEO_BYTES = 1024 * 1024 * 1024
FRAME_LIMITS: ImageLimits = FILE_LIMITS.with_bytes(64 * 1024 * 1024)
MAX_PIXELS = 16_000_000
SIZE = (640, 480)


def _shown(path: Path) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_approach_dataset(path: Path) -> bool:
    """True when ``path`` is a folder with a ``<traveller>/chip.jpg`` in it."""
    try:
        return path.is_dir() and any(
            (sub / CHIP).is_file() for sub in path.iterdir() if sub.is_dir()
        )
    except OSError:
        return False


def _approach_of(folder: Path) -> Path:
    for candidate in (folder / VIDEO, folder / FRAMES):
        if candidate.exists():
            return candidate
    raise InputError(f"{_shown(folder)}: no {VIDEO} and no {FRAMES}/ folder of frames")


def approach_scenario(path: Path, limit: int | None = None) -> Scenario:
    """The travellers of an approach dataset: each genuine, then (two or more) each
    passport shown by the next traveller's approach; the first ``limit`` of them."""
    people = []
    for folder in sorted(path.iterdir()):
        if not folder.is_dir():
            continue
        if not (folder / CHIP).is_file():
            raise InputError(f"{_shown(folder)}: no {CHIP} (each traveller's passport photo)")
        people.append((folder.name, folder / CHIP, _approach_of(folder)))
    specs = []
    for i, (name, chip, approach) in enumerate(people):
        specs.append(
            TravellerSpec("genuine", str(chip), Decision.ACCEPT, name=name, approach=str(approach))
        )
        if len(people) > 1:
            other, _, shown_by = people[(i + 1) % len(people)]
            specs.append(
                TravellerSpec("impostor", str(chip), Decision.REJECT_MISMATCH,
                              name=f"{name}~{other}", approach=str(shown_by))
            )  # fmt: skip
    if not specs:
        raise InputError(f"{_shown(path)}: no traveller folder")
    chosen = tuple(specs if limit is None else specs[:limit])
    return Scenario(f"approaches {path.name}", chosen, source=path)


def load_approach(path: Path) -> list[ImageBGR]:
    """The frames of a traveller's approach (a video file or a frame folder), fitted."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(f"cannot read the approach {_shown(path)}: {exc.strerror}") from exc
    if stat.S_ISDIR(mode):
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
        if len(files) > MAX_FRAMES:
            raise InputError(f"{_shown(path)}: {len(files)} frames, over {MAX_FRAMES}")
        frames = [fit(load_image(p, limits=FRAME_LIMITS, error=InputError)) for p in files]
    elif stat.S_ISREG(mode):
        frames = _video(path, os.stat(path).st_size)
    else:
        raise InputError(f"the approach {_shown(path)}: it is {kind_of(mode)}, not a video")
    if not frames:
        raise InputError(f"{_shown(path)}: no frame could be read")
    return frames


def _video(path: Path, size: int) -> list[ImageBGR]:
    import cv2

    if size > MAX_VIDEO_BYTES:
        raise InputError(f"{_shown(path)}: {size} bytes, over the {MAX_VIDEO_BYTES}-byte limit")
    capture = cv2.VideoCapture(os.fsdecode(path), cv2.CAP_FFMPEG)
    frames: list[ImageBGR] = []
    try:
        while len(frames) < MAX_FRAMES:
            ok, image = capture.read()
            if not ok or image is None:
                break
            height, width = image.shape[:2]
            if width * height > MAX_PIXELS or image.ndim != 3:
                raise InputError(f"{_shown(path)}: frames of {width}x{height}, over the limit")
            frames.append(fit(np.asarray(image, dtype=np.uint8)))
    finally:
        capture.release()
    return frames


def fit(image: ImageBGR, size: tuple[int, int] = SIZE) -> ImageBGR:
    """``image`` scaled into ``size`` (width, height), aspect kept, on a grey ground."""
    import cv2

    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    new = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    scaled = cv2.resize(image, new, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out: ImageBGR = np.full((height, width, 3), 118, np.uint8)
    top, left = (height - new[1]) // 2, (width - new[0]) // 2
    out[top : top + new[1], left : left + new[0]] = scaled
    return out
