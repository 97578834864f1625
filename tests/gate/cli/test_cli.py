"""The CLI skeleton: help works, errors become one line and exit code 2."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gate.cli import EXIT_ERROR, main


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "egate" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_ERROR
    assert "usage" in capsys.readouterr().err


def test_sigterm_unwinds_like_ctrl_c_so_clean_up_runs(tmp_path: Path) -> None:
    """A service manager stops egate with SIGTERM: the command's finally-blocks still run."""
    marker = tmp_path / "cleaned"
    script = (
        "import sys, time\n"
        "from gate.cli import main\n"
        "import gate.cli as cli\n"
        "def serve(args):\n"
        "    try:\n"
        "        print('ready', flush=True)\n"
        "        time.sleep(60)\n"
        "    finally:\n"
        f"        open({str(marker)!r}, 'w').write('yes')\n"
        "    return 0\n"
        "def register(reg):\n"
        "    reg.command('sleepy', 'test', serve)\n"
        "import types\n"
        "mod = types.ModuleType('sleepy_cmd'); mod.register = register\n"
        "cli.COMMANDS = (mod,)\n"
        "sys.exit(main(['sleepy']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "terminated" in err
    assert marker.read_text() == "yes"
