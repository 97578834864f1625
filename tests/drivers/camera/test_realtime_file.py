"""A video file as the camera at its own pace (``?realtime=1``), looping (``?loop=1``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.registry import open_camera, parse_address
from gate.errors import DeviceError, DeviceGoneError
from gate.interfaces import Frame

FPS = 20.0
FRAMES = 40  # 2 s of video: a late frame under load moves the rate little


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (64, 48))
    for i in range(FRAMES):
        image = np.full((48, 64, 3), 10 * (i % 20), np.uint8)
        cv2.putText(image, str(i), (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        writer.write(image)
    writer.release()
    assert path.stat().st_size > 0
    return path


def _read_all(address: str, limit: int = 1000, **kwargs: object) -> list[Frame]:
    frames: list[Frame] = []
    with open_camera(address, buffer_size=64, **kwargs) as camera:  # type: ignore[arg-type]
        while len(frames) < limit:
            try:
                frames.append(camera.read(2.0))
            except DeviceGoneError:
                break
    return frames


def test_realtime_plays_at_the_files_frame_rate(clip: Path) -> None:
    frames = _read_all(f"file:{clip}?realtime=1", live=False)
    assert len(frames) == FRAMES  # every frame, then a clean end of stream
    measured = (len(frames) - 1) / (frames[-1].timestamp - frames[0].timestamp)
    assert measured == pytest.approx(FPS, rel=0.10)


def test_without_realtime_a_file_is_read_as_fast_as_it_decodes(clip: Path) -> None:
    frames = _read_all(f"file:{clip}?realtime=0", live=False)
    assert len(frames) == FRAMES
    elapsed = frames[-1].timestamp - frames[0].timestamp
    assert elapsed < 0.5 * (FRAMES - 1) / FPS


def test_a_live_lane_plays_a_file_in_real_time_by_default(clip: Path) -> None:
    paced = _read_all(str(clip), live=True)  # as gate.lane.build opens the camera
    assert paced[-1].timestamp - paced[0].timestamp > 0.9 * (len(paced) - 1) / FPS
    fast = _read_all(f"file:{clip}?realtime=0", live=True)
    assert fast[-1].timestamp - fast[0].timestamp < 0.5 * (FRAMES - 1) / FPS


def test_loop_starts_again_and_keeps_the_pace(clip: Path) -> None:
    frames = _read_all(f"file:{clip}?realtime=1&loop=1", limit=FRAMES + 10, live=False)
    assert len(frames) == FRAMES + 10  # past the end without "end of stream"
    first, again = frames[0].image, frames[FRAMES].image
    assert np.abs(first.astype(int) - again.astype(int)).mean() < 2.0  # frame 0 again
    measured = (len(frames) - 1) / (frames[-1].timestamp - frames[0].timestamp)
    assert measured == pytest.approx(FPS, rel=0.10)


def test_bad_file_options_are_one_clear_error(clip: Path) -> None:
    assert parse_address(f"file:{clip}?loop=1").options == {"loop": True}
    with pytest.raises(DeviceError, match="bad realtime"):
        parse_address(f"file:{clip}?realtime=maybe")
    with pytest.raises(DeviceError, match="unknown option"):
        parse_address(f"file:{clip}?speed=2")
