"""One contract for every camera source: a video file, an image folder, an MJPEG stream over
HTTP, a synthetic scene and frames from Python, each behind the same capture thread.

The contract (``gate.interfaces.Camera``): ``read(timeout)`` returns a ``Frame`` with a uint8
HxWx3 picture, an increasing index and a non-decreasing timestamp from the camera's clock;
a finite source that has ended, and any camera after ``close()``, raises ``DeviceGoneError``;
closing twice is harmless.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.mjpeg_server import MjpegServer
from drivers.camera.registry import open_camera
from drivers.camera.threaded import camera_from_frames
from gate.clock import Clock, SimulatedClock
from gate.errors import DeviceGoneError
from gate.interfaces import Camera, Frame

READ_TIMEOUT = 10.0  # generous: the 2-core test machine renders and decodes slowly


def _numbered(n: int) -> list[np.ndarray]:
    return [np.full((120, 160, 3), 20 + 10 * i, np.uint8) for i in range(n)]


@dataclass
class Source:
    """A way to open one kind of camera, and how it ends."""

    name: str
    open: Callable[[Clock | None], Camera]
    frames: int | None  # how many frames a reader gets before the end; None: not fixed
    end: Callable[[], None] = lambda: None  # makes the source end (it ends by itself if no-op)


def _video_file(tmp_path: Path) -> Iterator[Source]:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (160, 120))
    assert writer.isOpened()
    for image in _numbered(8):
        writer.write(image)
    writer.release()
    yield Source("video file", lambda clock: open_camera(str(path), clock=clock), 8)


def _image_folder(tmp_path: Path) -> Iterator[Source]:
    for i, image in enumerate(_numbered(6)):
        cv2.imwrite(str(tmp_path / f"{i:04d}.png"), image)
    yield Source("image folder", lambda clock: open_camera(str(tmp_path), clock=clock), 6)


def _mjpeg_stream(tmp_path: Path) -> Iterator[Source]:
    # A live stream never ends by itself: the server going away (and not coming back within
    # the reconnect timeout) is its end.
    with MjpegServer(itertools.cycle(_numbered(8)), fps=60.0) as server:
        yield Source(
            "MJPEG over HTTP",
            lambda clock: open_camera(server.url, clock=clock, reconnect_timeout_s=0.5),
            None,
            server.close,
        )


def _synthetic_scene(tmp_path: Path, photo: Path) -> Iterator[Source]:
    address = f"synthetic:{photo}?kind=genuine&seed=1&frames=4"
    yield Source("synthetic scene", lambda clock: open_camera(address, clock=clock), 4)


def _python_frames(tmp_path: Path) -> Iterator[Source]:
    yield Source("frames", lambda clock: camera_from_frames(_numbered(5), clock=clock), 5)


@pytest.fixture(params=["video-file", "image-folder", "mjpeg-http", "synthetic", "frames"])
def source(request: pytest.FixtureRequest, tmp_path: Path, sample_images: Path) -> Iterator[Source]:
    if request.param == "video-file":
        yield from _video_file(tmp_path)
    elif request.param == "image-folder":
        yield from _image_folder(tmp_path)
    elif request.param == "mjpeg-http":
        yield from _mjpeg_stream(tmp_path)
    elif request.param == "synthetic":
        yield from _synthetic_scene(tmp_path, sample_images / "Tom_Hanks_54745.png")
    else:
        yield from _python_frames(tmp_path)


@pytest.fixture
def camera(source: Source) -> Iterator[Camera]:
    cam = source.open(None)
    try:
        yield cam
    finally:
        cam.close()


def _check_frames(frames: list[Frame]) -> None:
    for frame in frames:
        assert isinstance(frame, Frame)
        image = frame.image
        assert isinstance(image, np.ndarray) and image.dtype == np.uint8
        assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) > 0
    indices = [f.index for f in frames]
    assert all(b > a for a, b in itertools.pairwise(indices)), indices
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps), stamps


def test_is_a_camera_that_reads_frames(camera: Camera) -> None:
    assert isinstance(camera, Camera)
    _check_frames([camera.read(READ_TIMEOUT) for _ in range(3)])


def test_timestamps_come_from_the_given_clock(source: Source) -> None:
    clock = SimulatedClock(start=100.0)
    camera = source.open(clock)
    try:
        frames = [camera.read(READ_TIMEOUT)]
        clock.advance(2.5)
        # Up to two frames were stamped before the clock moved: one queued, one grabbed and
        # waiting for room (or about to replace it); the one after them is stamped later.
        while frames[-1].timestamp != 102.5 and len(frames) < 4:
            frames.append(camera.read(READ_TIMEOUT))
    finally:
        camera.close()
    _check_frames(frames)
    assert frames[0].timestamp == 100.0 and frames[-1].timestamp == 102.5
    assert {f.timestamp for f in frames} <= {100.0, 102.5}


def test_reading_after_close_is_device_gone(camera: Camera) -> None:
    camera.read(READ_TIMEOUT)
    camera.close()
    with pytest.raises(DeviceGoneError):
        camera.read(0.5)


def test_closing_twice_is_harmless(camera: Camera) -> None:
    camera.close()
    camera.close()
    with pytest.raises(DeviceGoneError):
        camera.read(0.1)


def test_a_finite_source_ends_with_device_gone(source: Source, camera: Camera) -> None:
    frames = [camera.read(READ_TIMEOUT)]
    source.end()
    with pytest.raises(DeviceGoneError):
        while True:
            frames.append(camera.read(READ_TIMEOUT))
    _check_frames(frames)
    if source.frames is not None:
        assert len(frames) == source.frames  # a recorded source loses no frame
    with pytest.raises(DeviceGoneError):  # and stays gone
        camera.read(0.1)
