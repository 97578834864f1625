"""``egate simulate --dataset ... --lanes 2``: travellers from identity folders through two
lane processes, each with its own reader, turnstile, camera and audit log; one system report.

The identities are the faces of the insightface sample group photo (each cut out; a second
"photo" of a person is the mirror image, slightly brighter). Needs the face pack (``make
install``); pcscd + vpcd when available, else the chips are read in process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.audit import AuditLog
from gate.cli import main
from gate.simulate.lanes import lane_audit_path, lane_indices
from tests.gate.simulate.people import face_crops

pytestmark = pytest.mark.slow


def test_lane_shares_and_audit_paths() -> None:
    assert lane_indices(5, 2) == [[0, 2, 4], [1, 3]]
    assert lane_audit_path(Path("/x/audit.db"), 1, 3) == Path("/x/audit.lane2.db")
    assert lane_audit_path(Path("/x/audit.db"), 0, 1) == Path("/x/audit.db")
    assert lane_audit_path(None, 0, 2) is None


@pytest.fixture()
def sample_people(tmp_path: Path, sample_images: Path) -> Path:
    import cv2

    root = tmp_path / "people"
    for number, crop in enumerate(face_crops(sample_images)[:3]):
        folder = root / f"person{number}"
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "a.jpg"), crop)
        brighter = cv2.convertScaleAbs(crop[:, ::-1], alpha=1.0, beta=12)
        cv2.imwrite(str(folder / "b.jpg"), brighter)
    return root


def test_two_lanes_one_report(
    sample_people: Path, pcsc_path: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = tmp_path / "audit.db"
    args = ["simulate", "--dataset", str(sample_people), "--limit", "4", "--lanes", "2"]
    args += ["--speed", "4"]  # the lane's waits, a quarter as long
    args += ["--audit", str(audit), "--json", str(tmp_path / "out.json")]
    args += ["--report", str(tmp_path / "report")]
    if not pcsc_path:  # read the chips in process
        args.append("--no-pcsc")
    assert main(args) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "out.json").read_text())
    travellers = report["travellers"]
    assert len(travellers) == 4 and report["run"]["lanes"] == 2
    assert [t["kind"] for t in travellers].count("genuine") == 2
    # every traveller went through a lane and was recorded in that lane's own audit log
    rows = []
    for lane in range(2):
        with AuditLog.open(lane_audit_path(audit, lane, 2)) as log:  # type: ignore[arg-type]
            rows.append([row["outcome"] for row in log.rows()])
    assert [len(r) for r in rows] == [2, 2]
    outcomes = [t["outcome"] for t in travellers]
    assert sorted(rows[0] + rows[1]) == sorted(outcomes)
    assert rows[0] == outcomes[0::2] and rows[1] == outcomes[1::2]
    # the system figures are the travellers' outcomes counted
    system = report["system"]
    genuine = [t for t in travellers if t["kind"] == "genuine"]
    impostor = [t for t in travellers if t["kind"] == "impostor"]
    assert system["frr"]["count"] == sum(t["outcome"] != "ACCEPT" for t in genuine)
    assert system["far"]["count"] == sum(t["outcome"] == "ACCEPT" for t in impostor)
    assert system["fta"]["count"] == outcomes.count("REFER_CAPTURE")
    assert report["matcher"]["pairs"] == 4
    assert all(t["matcher_distance"] is not None for t in travellers)
    assert "system: FTA" in out and (tmp_path / "report" / "report.md").is_file()
