"""A kiosk on emulated hardware for the ``egate run`` tests: a PC/SC reader (pcscd + vpcd)
holding a virtual passport, the gatectl turnstile on a pty, an MJPEG camera on 127.0.0.1, the
printed MRZ from a file; and a traveller who walks out when the exit opens."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2

from drivers.turnstile.emulator import EmulatorHandle
from gate.turnstile import Door, DoorState

TRAVELLERS = 20
CONTEXT_LIMIT = 8  # pcscd -t: the most client contexts it serves at once


@dataclass(frozen=True)
class Kiosk:
    emulator: EmulatorHandle
    config: Path
    audit: Path


@contextmanager
def emulated_kiosk(
    tmp_path: Path,
    document_number: str,
    extra_toml: str = "",
    page_camera: bool = False,
    door_time_scale: float = 0.2,
) -> Iterator[Kiosk]:
    """A genuine traveller's passport on a vpcd card, the turnstile emulator (its doors and
    walkers at ``door_time_scale`` of real time), the camera showing the traveller, and the
    kiosk config that names them. With ``page_camera`` the MRZ comes from a second MJPEG
    camera showing the passport's rendered data page (``reader.mrz_source = "camera:URL"``)
    instead of a file."""
    from drivers.camera.mjpeg_server import MjpegServer
    from drivers.camera.synthetic import TravellerScene
    from drivers.chip.passport_folder import load_passport_folder
    from drivers.chip.pcscd import ensure_pcscd
    from drivers.chip.vpcd import VpcdCardLink
    from drivers.turnstile.emulator import Physics, start_emulator
    from gate.simulate.faces import PhotoLibrary
    from gate.simulate.issue import issue_passport
    from gate.simulate.lane import SceneFeed
    from gate.simulate.pki import init_pki
    from models.engine import load_engine

    engine = load_engine(None)
    portrait = PhotoLibrary(lambda im: engine.analyze(im, min_face=40)).portrait("sample:t1.jpg#0")
    ok, jpeg = cv2.imencode(".jpg", portrait)
    assert ok
    issued = issue_passport(
        tmp_path / "passport",
        pki=init_pki(tmp_path / "pki"),
        photo=bytes(jpeg),
        surname="KIOSK",
        given_names="TEST",
        nationality="UTO",
        birth_date="900101",
        sex="F",
        expiry_date="351231",
        document_number=document_number,
    )
    (tmp_path / "mrz.txt").write_text("\n".join(issued.mrz.lines) + "\n")
    feed = SceneFeed()
    feed.show(list(TravellerScene(photo=portrait, kind="genuine", seed=1).images()))
    with (
        ensure_pcscd(),
        start_emulator("gatectl", physics=Physics(time_scale=door_time_scale)) as emulator,
        MjpegServer(feed) as camera,
        VpcdCardLink(load_passport_folder(tmp_path / "passport")) as link,
        contextlib.ExitStack() as more,
    ):
        mrz_source = "mrz.txt"
        if page_camera:
            from gate.page import render_page

            page = render_page(issued.mrz, portrait).image
            server = more.enter_context(MjpegServer([page], fps=10.0, loop=True))
            mrz_source = f"camera:{server.url}"
        config = tmp_path / "kiosk.toml"
        config.write_text(
            f"""
[camera]
address = "{camera.url}"
[reader]
address = "pcsc:{link.reader_name}"
mrz_source = "{mrz_source}"
trust_store = "pki"
[turnstile]
address = "{emulator.address}"
[audit]
path = "audit.db"
{extra_toml}"""
        )
        yield Kiosk(emulator, config, tmp_path / "audit.db")


def walk_out_when_open(emulator: EmulatorHandle, stop: threading.Event) -> None:
    """The traveller walks out as soon as the exit door is open (an event of the emulator,
    not a guess at how long the gate takes)."""
    while not stop.is_set():
        if emulator.wait_door(Door.EXIT, DoorState.OPEN, timeout=0.5):
            emulator.traveller_passes()
            return
