"""The smaller parts around the lane's state machine: simulated lane pieces, the kiosk's MRZ source,
resilient biometrics, the audit adapter."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest

from gate.audit import AuditLog
from gate.errors import ModelError
from gate.fakes import FakeBiometrics, FakeLane, fake_photo
from gate.lane.adapters import AuditLogSink
from gate.lane.documents import MrzStreamDocuments
from gate.lane.resilient import ReopeningCamera, ResilientBiometrics
from gate.outcome import Decision, Transaction
from gate.simulate.lane import SceneFeed, SimDocuments
from gate.transaction import PresentedDocument

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"


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
