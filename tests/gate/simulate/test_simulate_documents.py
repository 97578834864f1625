"""End to end: the modern-document kinds through ``egate simulate`` (chips read with PACE and
Chip Authentication by the gate's own reader; CA and revocation land in the decision, the
JSON summary and the audit log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.audit import AuditLog
from gate.cli import main

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = ROOT / "examples" / "scenarios" / "documents.toml"


@pytest.mark.slow
def test_id_card_clone_and_revoked_signer(
    pack_folder: Path, pcsc_path: bool, tmp_path: Path
) -> None:
    audit, summary = tmp_path / "audit.db", tmp_path / "summary.json"
    args = ["simulate", "--scenario", str(DOCUMENTS), "--audit", str(audit), "--json", str(summary)]
    if not pcsc_path:
        args.append("--no-pcsc")
    main(args)
    people = {t["kind"]: t for t in json.loads(summary.read_text())["travellers"]}
    card, clone, revoked = people["id_card"], people["clone"], people["revoked"]
    # The PACE-only TD1 card is opened, authenticated, and passes the document checks
    # (what the camera then decides is the face pipeline's business, tested elsewhere).
    assert (card["passive_auth"], card["chip_auth"]) == ("valid", "valid")
    assert card["actual"] != "REFER_DOCUMENT"
    assert (clone["actual"], clone["chip_auth"], clone["passive_auth"]) == (
        "REFER_DOCUMENT",
        "invalid",
        "valid",
    )
    assert "chip authentication invalid" in clone["detail"]
    assert (revoked["actual"], revoked["passive_auth"]) == ("REFER_DOCUMENT", "revoked")
    with AuditLog.open(audit) as log:
        rows = {row["transaction_id"]: row for row in log.rows()}
        assert log.verify().ok
    assert sorted(str(r["chip_auth"]) for r in rows.values()) == ["invalid", "valid", "valid"]
    assert sorted(str(r["passive_auth"]) for r in rows.values()) == ["revoked", "valid", "valid"]
