"""The recorder on a lane of fakes: what it writes per transaction, with which modes, what it
refuses, what retention deletes, and that the reader gives back what was written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from gate.errors import DocumentError, InputError
from gate.fakes import FakeLane
from gate.interfaces import Frame
from gate.outcome import Decision
from gate.record import RecordSettings, load_recording, record_lane
from gate.record.folder import transaction_name
from gate.transaction import PresentedDocument


def _lane_with_chip_files(fake: FakeLane, kind: str) -> None:
    document = fake.traveller(kind)
    read = fake.chip.answers[document.label]
    assert not isinstance(read, BaseException)
    files = {"DG1": b"dg1-bytes", "EF.SOD": b"sod", "../../escape": b"x"}
    fake.chip.answers[document.label] = dataclasses.replace(read, chip_files=files)


def test_each_transaction_is_recorded_with_its_frames_document_doors_and_outcome(
    tmp_path: Path,
) -> None:
    fake = FakeLane()
    lane = fake.build()
    folder = tmp_path / "rec"
    _lane_with_chip_files(fake, "genuine")
    fake.chip.answers["refused"] = DocumentError("BAC failed")
    with record_lane(lane, RecordSettings(folder, 3, "test")):
        lane.camera.read(1.0)  # an idle read: no transaction's, not recorded
        genuine = lane.serve_one(0.1)
        fake.documents.present(PresentedDocument("P<UTO\nL2", label="refused"))
        refused = lane.serve_one(0.1)
    assert genuine is not None and genuine.decision is Decision.ACCEPT
    assert refused is not None and refused.decision is Decision.REFER_DOCUMENT
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path

    recording = load_recording(folder)
    assert recording.producer == "test" and not recording.incomplete
    first, second = recording.transactions
    assert first.transaction_id == genuine.transaction_id
    assert first.outcome is Decision.ACCEPT and first.pack_id == "fake-pack"
    assert len(first.frames) == fake.biometrics.frames  # the capture's reads, not the idle one
    assert [f.index for f in first.frames] == sorted(f.index for f in first.frames)
    image = first.frames[0].image()
    assert image.shape == (8, 8, 3) and not image.any()  # lossless: the fake's black frame
    assert first.document is not None
    assert dict(first.document.files) == {"DG1": b"dg1-bytes", "EF.SOD": b"sod"}
    assert first.document.mrz.splitlines()[0].startswith("P<UTOFAKE")
    assert first.document.passive_auth == "valid"
    doors = [e["detail"] for e in first.turnstile]
    assert "exit_open_commanded" in doors and "passage_completed" in doors
    assert second.outcome is Decision.REFER_DOCUMENT and not second.frames
    assert second.document is not None and second.document.mrz == "P<UTO\nL2"
    assert second.document is not None and second.document.error_type == "DocumentError"
    assert second.document.error == "BAC failed"
    # the lane is given back as it was
    assert type(lane.camera).__name__ == "FakeCamera"
    assert type(lane.chip_reader).__name__ == "FakeChipReader"


def test_the_simulator_names_the_traveller(tmp_path: Path) -> None:
    fake = FakeLane()
    lane = fake.build()
    fake.traveller("impostor")
    with record_lane(lane, RecordSettings(tmp_path / "rec", 3, "test")) as recorder:
        recorder.note_traveller(kind="impostor", expected="REJECT_MISMATCH")
        lane.serve_one(0.1)
    (only,) = load_recording(tmp_path / "rec").transactions
    assert only.kind == "impostor" and only.expected is Decision.REJECT_MISMATCH


def test_old_transactions_are_deleted_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    RecordSettings(folder, 1)  # valid settings make no folder by themselves
    assert not folder.exists()
    with record_lane(FakeLane().build(), RecordSettings(folder, 5)):
        pass
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    old = folder / transaction_name(now - 6 * 86400, "a" * 32)
    recent = folder / transaction_name(now - 4 * 86400, "b" * 32)
    for kept_or_not in (old, recent):
        (kept_or_not / "frames").mkdir(parents=True)
    with record_lane(FakeLane().build(), RecordSettings(folder, 5)):
        pass
    assert not old.exists() and recent.exists()


def test_a_frame_outside_any_transaction_is_not_recorded(tmp_path: Path) -> None:
    with record_lane(FakeLane().build(), RecordSettings(tmp_path / "rec", 1)) as recorder:
        recorder.frame(Frame(np.zeros((8, 8, 3), np.uint8), 0.0, 1), 0.0)
    assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == ["recording.json"]


@pytest.mark.parametrize("days", [0, 3651])
def test_the_retention_limit_is_bounded(days: int) -> None:
    with pytest.raises(InputError, match="--record-days must be 1..3650"):
        RecordSettings(Path("x"), days)


def test_a_folder_open_to_others_a_link_or_another_version_is_refused(tmp_path: Path) -> None:
    lane = FakeLane().build()
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(InputError, match=r"open to others \(mode 755; chmod 700 it\)"):
        record_lane(lane, RecordSettings(shared, 1))
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    with pytest.raises(InputError, match="a symbolic link"):
        record_lane(lane, RecordSettings(link, 1))
    newer = tmp_path / "newer"
    newer.mkdir(mode=0o700)
    (newer / "recording.json").write_text(json.dumps({"format_version": 2}))
    with pytest.raises(InputError, match="it holds format_version 2, this egate writes 1"):
        record_lane(lane, RecordSettings(newer, 1))


def test_a_planted_link_is_never_written_through(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (folder / "recording.json").symlink_to(victim)
    with pytest.raises(InputError, match="cannot use the recording folder"):
        record_lane(FakeLane().build(), RecordSettings(folder, 1))
    assert victim.read_text() == "keep"
    assert os.path.islink(folder / "recording.json")


def test_a_frame_that_could_not_be_written_is_counted_not_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cv2

    encode = cv2.imencode
    calls = []

    def failing_once(ext: str, image: np.ndarray, params: list[int]) -> tuple[bool, np.ndarray]:
        calls.append(ext)
        return (False, np.zeros(0, np.uint8)) if len(calls) == 2 else encode(ext, image, params)

    monkeypatch.setattr(cv2, "imencode", failing_once)
    fake = FakeLane()
    lane = fake.build()
    fake.traveller("genuine")
    with record_lane(lane, RecordSettings(tmp_path / "rec", 1)) as recorder:
        assert lane.serve_one(0.1) is not None
    assert recorder.failures == 1 and recorder.recorded == 1
    (only,) = load_recording(tmp_path / "rec").transactions  # readable: no missing file
    assert len(only.frames) == fake.biometrics.frames - 1
    manifest = json.loads((only.folder / "transaction.json").read_text())
    assert manifest["frames_not_recorded"] == 1
