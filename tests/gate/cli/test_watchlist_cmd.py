"""``egate watchlist``: init, import, stats, export; a bad file is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.cli import main
from tests.gate.watch import lists


def test_init_import_stats_export_and_a_refused_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = lists.signer()
    (tmp_path / "issuer.pub").write_bytes(lists.public_pem(issuer))
    (tmp_path / "issuer.pem").write_bytes(lists.private_pem(issuer))
    store = tmp_path / "store"
    monkeypatch.setenv("EGATE_WATCH_STORE", str(store))
    key = tmp_path / "watch.key"
    assert main(["watchlist", "init", "--signer", str(tmp_path / "issuer.pub"),
                 "--new-key-file", str(key)]) == 0  # fmt: skip
    body = lists.content(3, documents=[("SLTD", "D-1", "UTO", "L898902C3")],
                         persons=[("wanted", "P-1", lists.templates(1, 2)[0])])  # fmt: skip
    lists.dump(tmp_path / "content.json", body)
    signed = tmp_path / "signed.json"
    assert main(["watchlist", "sign", str(tmp_path / "content.json"),
                 "--key", str(tmp_path / "issuer.pem"), "-o", str(signed)]) == 0  # fmt: skip
    assert main(["watchlist", "import", str(signed), "--key-file", str(key)]) == 0
    capsys.readouterr()
    assert main(["watchlist", "stats", "--json", "--key-file", str(key)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["current_version"] == 1
    assert {e["name"]: e["entries"] for e in stats["lists"]} == {"SLTD": 1, "wanted": 1}
    assert main(["watchlist", "export", "--key-file", str(key)]) == 0
    exported = capsys.readouterr().out
    assert "L898902C3" not in exported and json.loads(exported)["persons"][0]["ref"] == "P-1"
    assert main(["watchlist", "import", str(signed), "--key-file", str(key)]) == 2
    err = capsys.readouterr().err
    assert "already imported" in err and err.count("\n") == 1
    monkeypatch.delenv("EGATE_WATCH_KEY", raising=False)
    assert main(["watchlist", "stats"]) == 2
    assert "EGATE_WATCH_KEY" in capsys.readouterr().err
