"""Every source type through OpenCV, the capture thread's queue policy, reconnection."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.mjpeg_server import MjpegServer
from drivers.camera.registry import open_camera, parse_address
from drivers.camera.threaded import camera_from_frames
from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError
from gate.interfaces import Camera


def _numbered(n: int, size: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    """Frames whose mean grey level encodes their number (survives lossy codecs)."""
    w, h = size
    return [np.full((h, w, 3), 20 + 10 * i, np.uint8) for i in range(n)]


def _level(image: np.ndarray) -> int:
    return round((float(image.mean()) - 20) / 10)


def _read_all(camera: Camera, timeout: float = 5.0) -> list[np.ndarray]:
    images = []
    with pytest.raises(DeviceGoneError, match="end of stream"):
        while True:
            images.append(camera.read(timeout).image)
    return images


@pytest.mark.parametrize(("suffix", "fourcc"), [(".avi", "MJPG"), (".mp4", "mp4v")])
def test_video_file_gives_every_frame_in_order(tmp_path: Path, suffix: str, fourcc: str) -> None:
    path = tmp_path / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 15.0, (160, 120))
    assert writer.isOpened()
    for image in _numbered(12):
        writer.write(image)
    writer.release()
    camera = open_camera(str(path))
    try:
        images = _read_all(camera)
        frames_stats = camera.stats
    finally:
        camera.close()
    assert [_level(i) for i in images] == list(range(12))
    assert frames_stats.frames_dropped == 0 and frames_stats.frames_captured == 12


def test_image_sequence_pattern_and_folder(tmp_path: Path) -> None:
    for i, image in enumerate(_numbered(5)):
        cv2.imwrite(str(tmp_path / f"{i:04d}.png"), image)
    (tmp_path / "notes.txt").write_text("not an image")
    for address in (str(tmp_path / "%04d.png"), str(tmp_path)):
        camera = open_camera(address)
        try:
            images = _read_all(camera)
        finally:
            camera.close()
        assert [_level(i) for i in images] == list(range(5)), address


def test_frames_carry_index_and_clock_timestamps() -> None:
    class Tick:
        t = 0.0

        def now(self) -> float:
            self.t += 0.5
            return self.t

    camera = camera_from_frames(_numbered(3), clock=Tick())
    try:
        frames = [camera.read(2.0) for _ in range(3)]
    finally:
        camera.close()
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.timestamp for f in frames] == [0.5, 1.0, 1.5]
    assert isinstance(camera, Camera)


def test_live_source_keeps_the_newest_frame_and_counts_drops() -> None:
    frames = itertools.cycle(_numbered(20))
    camera = camera_from_frames(frames, live=True, buffer_size=2)
    try:
        while camera.stats.frames_captured < 10:  # let the producer run ahead of the reader
            time.sleep(0.01)
        got = [camera.read(2.0) for _ in range(5)]
        stats = camera.stats
    finally:
        camera.close()
    indices = [f.index for f in got]
    assert indices == sorted(indices)
    assert stats.frames_dropped > 0
    assert max(indices) - len(indices) < stats.frames_captured
    # queue bound: what was captured is delivered, dropped, or still queued (<= 2)
    held = stats.frames_captured - stats.frames_dropped - stats.frames_delivered
    assert 0 <= held <= 2 + 1  # +1: one frame may be pushed between the two snapshots


def test_recorded_source_blocks_instead_of_dropping() -> None:
    camera = camera_from_frames(_numbered(10), live=False, buffer_size=1)
    try:
        time.sleep(0.1)
        images = _read_all(camera)
    finally:
        camera.close()
    assert [_level(i) for i in images] == list(range(10))
    assert camera.stats.frames_dropped == 0


def test_read_times_out_when_no_frame_comes() -> None:
    done = threading.Event()

    def slow():  # type: ignore[no-untyped-def]
        yield from _numbered(1)
        done.wait(5)  # no second frame while the test reads (nor 5 s at close)

    camera = camera_from_frames(slow)
    try:
        camera.read(2.0)
        with pytest.raises(DeviceTimeoutError, match="no frame within 0.2 s"):
            camera.read(0.2)
    finally:
        done.set()
        camera.close()
    with pytest.raises(DeviceGoneError, match="closed"):
        camera.read(0.1)


def test_bad_addresses_name_the_address(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="nowhere.mp4"):
        parse_address(str(tmp_path / "nowhere.mp4"))
    with pytest.raises(DeviceError, match="empty"):
        parse_address("  ")
    with pytest.raises(DeviceError, match="no image files"):
        open_camera(str(tmp_path))
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(DeviceError, match="OpenCV cannot open it"):
        open_camera(str(tmp_path / "junk.mp4"))


def test_mjpeg_stream_over_http_then_the_server_dies() -> None:
    server = MjpegServer(itertools.cycle(_numbered(8)), fps=40.0)
    camera = open_camera(server.url, reconnect_timeout_s=0.8)
    try:
        levels = [_level(camera.read(3.0).image) for _ in range(6)]
        assert all(0 <= v < 8 for v in levels)
        server.close()
        with pytest.raises(DeviceGoneError, match="not back within 0.8 s"):
            while True:
                camera.read(5.0)
        assert camera.stats.frames_captured >= 6
    finally:
        camera.close()
        server.close()


def test_mjpeg_stream_reconnects_when_the_server_comes_back() -> None:
    first = MjpegServer(itertools.cycle(_numbered(4)), fps=40.0)
    port = first.port
    camera = open_camera(first.url, reconnect_timeout_s=10.0)
    try:
        camera.read(3.0)
        first.close()
        second = MjpegServer(itertools.cycle(_numbered(4)[::-1]), fps=40.0, port=port)
        try:
            deadline = time.monotonic() + 10.0
            while camera.stats.reconnects == 0 and time.monotonic() < deadline:
                with contextlib.suppress(DeviceTimeoutError):
                    camera.read(1.0)
            assert camera.stats.reconnects >= 1
            assert camera.read(3.0).image.shape == (120, 160, 3)
        finally:
            second.close()
    finally:
        camera.close()


def test_mjpeg_server_refuses_non_loopback_hosts() -> None:
    with pytest.raises(DeviceError, match="not a loopback"):
        MjpegServer(_numbered(1), host="0.0.0.0")


@pytest.mark.parametrize("address", ["7", "/dev/video9", "rtsp://127.0.0.1:1/none"])
def test_devices_and_rtsp_go_through_opencv_and_fail_cleanly(address: str) -> None:
    # This machine has no /dev/video* and no RTSP server: the live paths must still reach
    # OpenCV and fail with an error naming the address.
    with pytest.raises(DeviceError, match=f"camera {address}: OpenCV cannot open it"):
        open_camera(address)
