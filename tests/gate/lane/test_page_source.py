"""The page reader built from a camera (``reader.mrz_source = "camera:ADDRESS"``): a page is
handed to the lane once the tray is still and sharp, once per page laid down."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest

from gate.config import load_config, page_camera_address
from gate.errors import ConfigError, DeviceTimeoutError
from gate.fakes import fake_photo
from gate.icao.mrz import format_td3
from gate.interfaces import Frame
from gate.lane.page_source import SHARP, PageCameraDocuments, sharpness
from gate.types import ImageBGR


class _Tray:
    """A camera over the tray: the queued pictures, then a timeout (no frame)."""

    def __init__(self) -> None:
        self.frames: deque[ImageBGR] = deque()
        self.index = 0
        self.closed = False

    def read(self, timeout: float) -> Frame:
        if not self.frames:
            raise DeviceTimeoutError("no frame")
        self.index += 1
        return Frame(self.frames.popleft(), float(self.index), self.index)

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def page() -> ImageBGR:
    from gate.page import render_page

    mrz = format_td3(surname="TRAY", given_names="PAGE", document_number="T12345678",
                     issuing_state="UTO", nationality="UTO", birth_date="800101", sex="M",
                     expiry_date="351231")  # fmt: skip
    return render_page(mrz, fake_photo(3, size=64)).image


def _source(tray: _Tray) -> tuple[PageCameraDocuments, list[int]]:
    cards: list[int] = []

    def connect() -> object:
        cards.append(1)
        return object()

    return PageCameraDocuments(tray, connect), cards  # type: ignore[arg-type]


def test_a_still_sharp_page_is_handed_over_once_while_it_lies_there(page: ImageBGR) -> None:
    tray = _Tray()
    source, cards = _source(tray)
    empty = np.full_like(page, 60)
    rng = np.random.default_rng(0)
    moving = [np.roll(page, int(rng.integers(20, 80)), axis=1) for _ in range(4)]
    tray.frames.extend([empty] * 4 + moving)
    assert source.wait_document(5.0) is None  # an empty tray, then a page being laid down
    assert sharpness(empty.astype(np.float32)) < SHARP
    tray.frames.extend([page] * 4)
    document = source.wait_document(5.0)
    assert document is not None and document.page is page
    assert document.printed_mrz == "" and len(cards) == 1  # the lane reads it by OCR
    tray.frames.extend([page] * 10)  # it still lies there: not the next traveller
    assert source.wait_document(5.0) is None
    tray.frames.extend([empty] * 2 + [page] * 4)  # taken away, laid down again
    assert source.wait_document(5.0) is not None
    assert len(cards) == 2 and not source.ended
    source.close()
    assert tray.closed


def test_a_camera_address_is_a_page_camera_and_a_path_is_not(tmp_path: Path) -> None:
    assert (
        page_camera_address("camera:http://127.0.0.1:8080/s.mjpg") == "http://127.0.0.1:8080/s.mjpg"
    )
    assert page_camera_address("camera:device:1") == "device:1"
    assert page_camera_address("rtsp://doc-cam/page") == "rtsp://doc-cam/page"
    assert page_camera_address("/dev/video2") == "/dev/video2"
    assert page_camera_address("mrz.fifo") is None and page_camera_address("stdin") is None
    config = tmp_path / "kiosk.toml"
    config.write_text('[reader]\nmrz_source = "camera:http://127.0.0.1:1/p.mjpg"\n')
    assert load_config(config).reader.mrz_source == "camera:http://127.0.0.1:1/p.mjpg"
    config.write_text('[reader]\nmrz_source = "camera:"\n')
    with pytest.raises(ConfigError, match="reader.mrz_source: 'camera:' names no camera"):
        load_config(config)
