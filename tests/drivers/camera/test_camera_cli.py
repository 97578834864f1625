from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from drivers.camera.registry import open_camera
from gate.cli import main
from gate.errors import DeviceGoneError, DeviceTimeoutError
from tests.egate_process import start_egate


def _emulate_camera(photo: Path, *options: str) -> subprocess.Popen[str]:
    """``egate emulate camera`` on a free port at 20 fps; its stream's URL is its first line."""
    return start_egate("emulate", "camera", "--photo", str(photo), "--port", "0",
                       "--fps", "20", *options, stderr=subprocess.DEVNULL)  # fmt: skip


def test_emulate_camera_serves_a_stream_opencv_reads(sample_images: Path) -> None:
    photo = sample_images / "Tom_Hanks_54745.png"
    proc = _emulate_camera(photo, "--kind", "two-faces", "--frames", "6", "--duration", "20")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/stream.mjpg"), url
        camera = open_camera(url, reconnect_timeout_s=0.5)
        try:
            frames = [camera.read(10.0) for _ in range(3)]
        finally:
            camera.close()
        assert all(f.image.shape == (480, 640, 3) for f in frames)
    finally:
        proc.terminate()
        proc.wait(10)


def test_emulate_camera_refuses_a_missing_photo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["emulate", "camera", "--photo", str(tmp_path / "none.jpg"), "--port", "0"])
    assert code == 2
    assert "none.jpg" in capsys.readouterr().err


def test_emulate_camera_once_ends_the_stream(sample_images: Path) -> None:
    photo = sample_images / "Tom_Hanks_54745.png"
    proc = _emulate_camera(photo, "--kind", "no-face", "--frames", "4", "--once")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        camera = open_camera(url, reconnect_timeout_s=0.5)
        seen = 0
        try:
            with pytest.raises(DeviceGoneError):
                while True:
                    try:
                        camera.read(5.0)
                        seen += 1
                    except DeviceTimeoutError:
                        continue
        finally:
            camera.close()
        assert 1 <= seen <= 4
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
