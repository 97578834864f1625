"""Camera addresses: every scheme (explicit or inferred), the errors, a lazy registry."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.opencv import DeviceGrabber, DirectoryGrabber, StreamGrabber, VideoFileGrabber
from drivers.camera.registry import BACKENDS, CameraAddress, backend, grabber_for, parse_address
from drivers.camera.synthetic import SceneGrabber
from gate.errors import DeviceError, InputError


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    """A video file, an image folder with a sequence in it, and a photo."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"{i:04d}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    video = tmp_path / "clip.avi"
    video.write_bytes(b"only its existence matters to the parser")
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.full((64, 64, 3), 128, np.uint8))
    return {"folder": folder, "video": video, "photo": photo}


def test_every_scheme_resolves_to_its_grabber_class() -> None:
    expected = {
        "device": DeviceGrabber,
        "http": StreamGrabber,
        "https": StreamGrabber,
        "rtsp": StreamGrabber,
        "rtsps": StreamGrabber,
        "file": VideoFileGrabber,
        "sequence": VideoFileGrabber,
        "folder": DirectoryGrabber,
        "synthetic": SceneGrabber,
    }
    assert set(BACKENDS) == set(expected)
    for scheme, cls in expected.items():
        assert backend(scheme) is cls, scheme


@pytest.mark.parametrize(
    ("address", "scheme", "target", "cls"),
    [
        ("0", "device", "0", DeviceGrabber),
        (" 2 ", "device", "2", DeviceGrabber),
        ("/dev/video0", "device", "/dev/video0", DeviceGrabber),
        ("device:1", "device", "1", DeviceGrabber),
        ("http://127.0.0.1:8081/s?x=1", "http", "http://127.0.0.1:8081/s?x=1", StreamGrabber),
        ("https://cam.local/live", "https", "https://cam.local/live", StreamGrabber),
        ("rtsp://10.0.0.5:554/main", "rtsp", "rtsp://10.0.0.5:554/main", StreamGrabber),
        ("rtsps://10.0.0.5/main", "rtsps", "rtsps://10.0.0.5/main", StreamGrabber),
        ("{video}", "file", "{video}", VideoFileGrabber),
        ("file:{video}", "file", "{video}", VideoFileGrabber),
        ("{folder}/%04d.png", "sequence", "{folder}/%04d.png", VideoFileGrabber),
        ("sequence:{folder}/%04d.png", "sequence", "{folder}/%04d.png", VideoFileGrabber),
        ("{folder}", "folder", "{folder}", DirectoryGrabber),
        ("folder:{folder}", "folder", "{folder}", DirectoryGrabber),
        ("synthetic:{photo}", "synthetic", "{photo}", SceneGrabber),
    ],
)
def test_addresses_parse_to_a_scheme_and_build_its_grabber(
    paths: dict[str, Path], address: str, scheme: str, target: str, cls: type
) -> None:
    address, target = address.format(**paths), target.format(**paths)
    assert parse_address(address) == CameraAddress(scheme, target)
    assert isinstance(grabber_for(address), cls)


def test_synthetic_options_are_typed(paths: dict[str, Path]) -> None:
    parsed = parse_address(f"synthetic:{paths['photo']}?kind=print&seed=3&frames=5&loop=1")
    assert parsed.options == {"kind": "print", "seed": 3, "frames": 5, "loop": True}
    grabber = grabber_for(f"synthetic:{paths['photo']}?kind=print&frames=2")
    assert grabber.description == f"synthetic:{paths['photo']}" and not grabber.live
    grabber.open()
    pictures = [grabber.grab(), grabber.grab(), grabber.grab()]
    assert [p is not None and p.shape == (480, 640, 3) for p in pictures] == [True, True, False]


def test_a_bad_scene_kind_fails_when_opened(paths: dict[str, Path]) -> None:
    grabber = grabber_for(f"synthetic:{paths['photo']}?kind=mask")
    with pytest.raises(InputError, match="scene kind 'mask'"):
        grabber.open()


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("ftp://127.0.0.1/x", "not a device index"),
        ("nowhere.mp4", "not a device index"),
        ("webcam:0", "not a device index"),
        ("file:", "names nothing after 'file:'"),
        ("file:{folder}/none.avi", "is not a file"),
        ("folder:{video}", "is not a folder"),
        ("{folder}/none/%04d.png", "folder of the image sequence does not exist"),
        ("synthetic:{photo}?colour=red", "unknown option 'colour'"),
        ("synthetic:{photo}?frames=many", "bad frames='many'"),
        ("synthetic:{photo}?loop=maybe", "bad loop='maybe'"),
        ("synthetic:{folder}/none.png", "is not a file"),
    ],
)
def test_bad_addresses_name_the_address(paths: dict[str, Path], address: str, message: str) -> None:
    address = address.format(**paths)
    with pytest.raises(DeviceError, match=message) as info:
        parse_address(address)
    text = str(info.value)
    assert address in text and "\n" not in text


def test_an_unknown_address_lists_the_schemes() -> None:
    with pytest.raises(DeviceError) as info:
        parse_address("ftp://127.0.0.1/x")
    assert "ftp://127.0.0.1/x" in str(info.value)
    assert ", ".join(s + ":" for s in BACKENDS) in str(info.value)
