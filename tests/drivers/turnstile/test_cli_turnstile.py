"""The commissioning CLI against the emulator running as its own process, as an integrator
would use them (two shells: here a subprocess and in-process calls)."""

from __future__ import annotations

import io
import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.cli import EXIT_ERROR, EXIT_OK, main
from tests.egate_process import start_egate


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    link = tmp_path / "lane"
    proc = start_egate(
        "emulate", "turnstile", "--protocol", "gatectl", "--link", str(link),
        "--time-scale", "0.25", "--seconds", "60", stdin=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.strip() == f"port: {link}", first
    assert proc.stdout.readline().strip() == f"address: gatectl:{link}"
    try:
        yield proc, link
    finally:
        assert proc.stdin is not None
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_status_open_exit_watch(
    emulator: tuple[subprocess.Popen[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    proc, link = emulator
    device = f"gatectl:{link}"
    assert main(["turnstile", "--device", device, "status", "--json"]) == EXIT_OK
    st = json.loads(capsys.readouterr().out)
    assert (st["entry"], st["exit"], st["assumed"]) == ("closed", "closed", False)

    assert proc.stdin is not None
    proc.stdin.write("pass\n")
    proc.stdin.flush()
    assert main(["turnstile", "--device", device, "open-exit", "--hold", "5", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    kinds = [x.get("kind") for x in lines]
    assert lines[0] == {"ok": True, "action": "open-exit"}
    assert "door_opened" in kinds and kinds[-1] == "passage_completed"

    assert main(["turnstile", "--device", device, "watch", "--seconds", "0.5"]) == EXIT_OK
    assert main(["turnstile", "--device", device, "lock"]) == EXIT_OK
    assert "locked" in capsys.readouterr().out


def test_unreachable_device_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = tmp_path / "ttyGONE"
    code = main(["turnstile", "--device", f"gatectl:{gone}", "--timeout", "0.3", "status"])
    assert code == EXIT_ERROR
    assert str(gone) in capsys.readouterr().err


def test_silent_device_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from drivers.turnstile.emulator import Faults, start_emulator

    with start_emulator("gatectl", faults=Faults(drop_rate=1.0)) as world:
        code = main(["turnstile", "--device", f"gatectl:{world.port}", "--timeout", "0.5", "lock"])
    assert code == EXIT_ERROR
    assert "does not answer" in capsys.readouterr().err


def test_emulate_rejects_unknown_fault(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["emulate", "turnstile", "--protocol", "lcus", "--fault", "gremlins=3"])
    assert code == EXIT_ERROR
    assert "unknown fault 'gremlins=3'" in capsys.readouterr().err


def test_watch_prints_a_silent_controller_and_its_return() -> None:
    """``egate turnstile watch`` on a controller that stops answering with its port open:
    a device_fault line, then reconnected once it answers again."""
    from drivers.turnstile.emulator import start_emulator

    with start_emulator("gatectl") as world:
        watch = ["watch", "--json", "--count", "2", "--seconds", "60"]
        proc = start_egate("turnstile", "--device", world.address, *watch)
        try:
            assert proc.stderr is not None
            # the watcher's driver is set up and listening
            while not (said := proc.stderr.readline()).startswith("watching"):
                assert said, "the watcher exited before watching"
            world.silence()
            assert _line(proc)["kind"] == "device_fault"
            world.silence(False)
            back = _line(proc)
            assert back["kind"] == "reconnected" and "doors locked" in str(back["detail"])
            assert proc.wait(10) == EXIT_OK
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _line(proc: subprocess.Popen[str], timeout: float = 15.0) -> dict[str, object]:
    """The next JSON line the process prints (fails instead of hanging)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no output within {timeout} s"
    line = proc.stdout.readline()
    assert line, "the watcher exited"
    obj = json.loads(line)
    assert isinstance(obj, dict)
    return obj


def test_emulate_link_never_replaces_a_file_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    code = main(
        ["emulate", "turnstile", "--protocol", "gatectl", "--link", str(victim), "--seconds", "0.1"]
    )
    assert code == EXIT_ERROR
    err = capsys.readouterr().err
    assert "victim.txt" in err and err.count("\n") == 1
    assert victim.read_text() == "keep me" and not victim.is_symlink()


def test_emulate_link_is_made_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no world commands
    link = tmp_path / "tty"
    assert (
        main(
            [
                "emulate",
                "turnstile",
                "--protocol",
                "gatectl",
                "--link",
                str(link),
                "--seconds",
                "0.1",
            ]
        )
        == EXIT_OK
    )
    assert not link.exists() and not link.is_symlink()  # our own link, gone at the end
