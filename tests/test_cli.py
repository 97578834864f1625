"""The CLI skeleton: help works, errors become one line and exit code 2."""

from __future__ import annotations

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
