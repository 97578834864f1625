"""The smaller parts around the lane's state machine: simulated lane pieces, the kiosk's MRZ source,
resilient biometrics, the audit adapter."""

from __future__ import annotations

import io
import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from gate.audit import AuditLog
from gate.clock import SimulatedClock
from gate.errors import ModelError
from gate.fakes import FakeBiometrics, FakeCamera, FakeLane, fake_photo
from gate.lane.adapters import AuditLogSink
from gate.lane.documents import MrzStreamDocuments
from gate.lane.resilient import ReopeningCamera, ResilientBiometrics
from gate.outcome import Decision, Transaction
from gate.simulate.issue import IssuedPassport
from gate.simulate.lane import SceneFeed, SimDocuments
from gate.transaction import PresentedDocument
from tests.gate.documents import TD3
from tests.gate.icao.passports import face_jpeg, passport, pki_ecdsa  # noqa: F401


def test_scene_feed_plays_scene_then_keeps_moving_and_switches() -> None:
    feed = SceneFeed(size=(32, 24))
    frames = [np.full((24, 32, 3), i, np.uint8) for i in range(6)]
    stream = feed()
    background = next(stream)
    assert background.shape == (24, 32, 3)
    feed.show(frames)
    seen = [int(next(stream)[0, 0, 0]) for _ in range(14)]
    assert seen[:6] == [0, 1, 2, 3, 4, 5]
    # Afterwards the second half plays back and forth: never a frozen picture.
    tail = seen[6:]
    assert set(tail) <= {3, 4, 5} and all(a != b for a, b in itertools.pairwise(tail))
    feed.clear()
    after = [next(stream) for _ in range(2)]
    assert any(np.array_equal(f, background) for f in after)


def test_lockstep_feed_moves_only_as_the_gate_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from drivers.camera.threaded import camera_from_frames
    from gate.simulate.lane import LockstepCamera

    monkeypatch.setattr("gate.simulate.lane.KEEPALIVE_S", 0.01)
    feed = SceneFeed(size=(32, 24), lockstep=True)
    feed.show([np.full((24, 32, 3), v, np.uint8) for v in (10, 20, 30)])
    stream = feed()
    assert int(next(stream)[0, 0, 0]) == 10
    # Nothing read yet: the last picture again (the stream stays alive), the scene waits.
    assert int(next(stream)[0, 0, 0]) == 10
    camera = LockstepCamera(camera_from_frames([np.zeros((24, 32, 3), np.uint8)]), feed)
    camera.read(1.0)  # the gate reads one frame: the scene moves on by one
    assert int(next(stream)[0, 0, 0]) == 20
    feed.consumed()
    assert int(next(stream)[0, 0, 0]) == 30
    camera.close()
    feed.close()
    assert next(stream, None) is None  # a closed feed ends the stream


def test_sim_documents_queue_and_timeout() -> None:
    tray = SimDocuments()
    assert tray.wait_document(0.01) is None
    doc = PresentedDocument("x", None, "a")
    tray.lay(doc)
    assert tray.wait_document(0.01) is doc


def test_mrz_stream_documents_finds_td3_among_noise() -> None:
    stream = io.StringIO("garbage line\n" + TD3 + "\n\n")
    made: list[int] = []

    def transport() -> object:
        made.append(1)
        return object()

    source = MrzStreamDocuments(stream, transport)  # type: ignore[arg-type]
    documents = [source.wait_document(1.0) for _ in range(3)]
    found = [d for d in documents if d is not None]
    assert len(found) == 1 and found[0].printed_mrz == TD3
    assert made == [1]
    assert source.wait_document(1.0) is None  # the blank line
    assert source.wait_document(1.0) is None and source.ended


def test_resilient_biometrics_refers_while_broken_then_recovers() -> None:
    attempts = {"n": 0}
    inner = FakeBiometrics()

    def load() -> FakeBiometrics:
        attempts["n"] += 1
        if attempts["n"] <= 2:
            raise ModelError("pack file dlib.onnx: sha256 mismatch")
        return inner

    bio = ResilientBiometrics(load)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        bio.enrol(fake_photo(1))
    assert bio.enrol(fake_photo(1)).shape == (16,)
    assert bio.pack_id == "fake-pack" and attempts["n"] == 3


def test_broken_pack_at_start_refers_device_then_next_traveller_served() -> None:
    lane = FakeLane()
    broken = {"on": True}

    def load() -> FakeBiometrics:
        if broken["on"]:
            raise ModelError("model file corrupted")
        return lane.biometrics

    lane.biometrics_port = ResilientBiometrics(load)
    ctl = lane.build()
    ctl.use_biometrics(lane.biometrics_port)
    lane.traveller("genuine", identity=4)
    lane.traveller("genuine", identity=4)
    first = ctl.serve_one(0.1)
    broken["on"] = False
    second = ctl.serve_one(0.1)
    assert first is not None and first.decision is Decision.REFER_DEVICE and first.fail_safe
    assert second is not None and second.decision is Decision.ACCEPT


def test_audit_sink_writes_hashed_row(tmp_path: Path) -> None:
    with AuditLog.open(tmp_path / "a.db") as log:
        sink = AuditLogSink(log)
        tx = Transaction(
            "tx-1",
            1.0,
            2.0,
            Decision.TAILGATING,
            score=0.3,
            threshold=0.6,
            stage_ms={"document": 12.0},
            detail="a second person followed",
            alarm=True,
            document_number="L898902C3",
        )
        sink.commit(tx)
        (row,) = list(log.rows())
    assert row["outcome"] == "TAILGATING"
    assert row["detail"].startswith("ALARM")
    assert "L898902C3" not in str(row)
    assert row["document_hash"]


def test_reopening_camera_fails_once_then_opens_the_source_again() -> None:
    from gate.clock import SimulatedClock
    from gate.errors import DeviceGoneError
    from gate.fakes import FakeCamera

    clock = SimulatedClock()
    opened: list[FakeCamera] = []

    def open_source() -> FakeCamera:
        opened.append(FakeCamera(clock, die_after=2 if not opened else None))
        return opened[-1]

    camera = ReopeningCamera(open_source)
    assert camera.read(1.0).index == 1 and camera.read(1.0).index == 2
    with pytest.raises(DeviceGoneError):
        camera.read(1.0)
    assert opened[0].closed
    assert camera.read(1.0).index == 1  # a fresh source
    assert len(opened) == 2 and camera.reopened == 2
    assert camera.stats.opened == 2
    camera.close()
    assert opened[1].closed


# -- the kiosk's MRZ source on bad input (issue "Safety and integrity", part 7) ----------------


def _drain(source: MrzStreamDocuments, polls: int = 20) -> list[PresentedDocument]:
    found = []
    for _ in range(polls):
        document = source.wait_document(1.0)
        if document is not None:
            found.append(document)
        if source.ended:
            break
    return found


def test_mrz_source_non_ascii_byte_refuses_that_document_and_reads_on(tmp_path: Path) -> None:
    """One non-ASCII byte used to end the reader thread (UnicodeDecodeError) and `egate run`
    then waited for ever; now that document is presented as unreadable, the next is read."""
    scan = tmp_path / "scanner.txt"
    scan.write_bytes(b"P<UTO\xc3\xa9RIKSSON\n\n" + TD3.encode() + b"\n")
    with scan.open(encoding="ascii", errors="replace") as stream:  # as gate.lane.build opens it
        source = MrzStreamDocuments(stream, lambda: object())  # type: ignore[arg-type,return-value]
        found = _drain(source)
    assert source.ended
    assert [d.label for d in found] == ["unreadable MRZ", "document"]
    assert found[1].printed_mrz == TD3


def test_mrz_source_strict_text_stream_decode_error_does_not_kill_the_reader() -> None:
    """stdin decodes strictly: the UnicodeDecodeError is caught in the reader thread."""
    raw = io.BytesIO(b"\xff\xfe\xfa garbage\n" + (b"x" * 9000) + b"\n\n" + TD3.encode() + b"\n")
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    source = MrzStreamDocuments(stream, lambda: object())  # type: ignore[arg-type,return-value]
    found = _drain(source)
    assert source.ended
    assert found[0].label == "unreadable MRZ"
    assert found[-1].label == "document" and found[-1].printed_mrz == TD3


def test_mrz_source_garbled_lines_of_one_document_refuse_it_once() -> None:
    stream = io.StringIO("P<UTO\u00c9RIKSSON\nL898\ufffd02C36\n" + "Z" * 5000 + "\n")
    source = MrzStreamDocuments(stream, lambda: object())  # type: ignore[arg-type,return-value]
    assert [d.label for d in _drain(source)] == ["unreadable MRZ"]
    assert source.ended


@pytest.mark.timeout(60)
def test_egate_run_lane_refers_a_garbled_scan_and_keeps_serving(
    tmp_path: Path,
    passport: IssuedPassport,  # noqa: F811  (the fixture)
) -> None:
    """The kiosk path: build_lane opens reader.mrz_source; two garbled documents are two
    referrals (REFER_DOCUMENT), and the lane closes at once though its file source never ends
    (issue 25: a file is followed as it grows, not an end of service)."""
    import threading

    from gate.config import GateConfig, ReaderConfig
    from gate.icao.pa import TrustStore
    from gate.lane import build_lane
    from gate.lane.adapters import PassportChipReader

    scan = tmp_path / "scanner.txt"
    scan.write_bytes(b"P<UTO\xe9RIKSSON\n\nL898902C3\x80UTO\n")
    # The in-process reader: the lane takes travellers only while its reader answers, and
    # this one needs no pcscd.
    reader = ReaderConfig(address=f"emulator:{passport.folder}", mrz_source=str(scan))
    config = GateConfig(reader=reader)
    parts = FakeLane()
    with build_lane(
        config,
        clock=parts.clock,
        chip_reader=PassportChipReader(TrustStore([])),
        biometrics=parts.biometrics,
        camera=parts.camera,
        turnstile=parts.turnstile,
        audit=parts.audit,
    ) as lane:
        served = lane.serve(threading.Event(), max_transactions=2)
    assert served == 2
    decisions = [t.decision for t in parts.audit.records]
    assert decisions == [Decision.REFER_DOCUMENT, Decision.REFER_DOCUMENT]
    assert all("MRZ" in t.detail for t in parts.audit.records)


def test_a_watch_of_the_idle_lane_does_not_load_a_broken_pack_the_scan_does() -> None:
    attempts = {"n": 0}

    def load() -> FakeBiometrics:
        attempts["n"] += 1
        raise ModelError("pack file dlib.onnx: sha256 mismatch")

    bio = ResilientBiometrics(load)
    assert attempts["n"] == 1  # at start-up
    clock = SimulatedClock()
    with pytest.raises(ModelError, match="sha256 mismatch"):
        bio.capture(FakeCamera(clock), clock, 1.0, threading.Event())  # a watch
    assert attempts["n"] == 1
    with pytest.raises(ModelError, match="sha256 mismatch"):
        bio.capture(FakeCamera(clock), clock, 1.0)  # the traveller's
    assert attempts["n"] == 2
