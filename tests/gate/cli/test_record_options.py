"""``--record DIR`` and ``--record-days N`` on ``egate run`` and ``egate simulate``: handed to
the run, the folder made (0700) and claimed before any device opens, refused in one line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import gate.cli.gate_cmd as gate_cmd
from gate.cli import main
from gate.record import RecordSettings


def test_simulate_hands_the_recording_to_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[gate_cmd.LaneRun] = []
    monkeypatch.setattr(gate_cmd, "simulate_lane", lambda run: seen.append(run) or 0)
    folder = tmp_path / "rec"
    assert main(["simulate", "--no-pcsc", "--record", str(folder), "--record-days", "3"]) == 0
    (run,) = seen
    assert run.record == RecordSettings(folder, 3, "egate simulate")
    assert run.options().record == run.record  # what the simulator's lanes get
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "recording.json").stat().st_mode) == 0o600
    assert main(["simulate", "--no-pcsc"]) == 0
    assert seen[-1].record is None  # off unless asked for


def test_run_refuses_a_folder_open_to_others_before_opening_any_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[audit]\npath = "audit.db"\n')  # no trust store: a later refusal
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    assert main(["run", "--config", str(config), "--record", str(shared)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "open to others (mode 755; chmod 700 it)" in err and "trust" not in err


def test_a_replay_is_not_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--replay", str(tmp_path), "--record", str(tmp_path / "rec")]
    assert main(args) == 2
    assert "--record: not with --replay" in capsys.readouterr().err
    assert not (tmp_path / "rec").exists()
