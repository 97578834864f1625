"""``egate simulate`` and ``egate demo`` describe their run the same way (issue 18, item 5):
both go through ``lane_run`` to one ``LaneRun`` and hand it to ``simulate_lane``; the demo
is the simulator's run with its own few options, not a hand-made ``Namespace``. The options
several commands share are declared once (``gate.cli.options``)."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

import gate.cli.gate_cmd as gate_cmd
from gate.cli import COMMANDS, build_parser, main
from gate.cli.lane_console import LaneWatch
from tests.conftest import PROJECT_ROOT


@pytest.fixture()
def runs(monkeypatch: pytest.MonkeyPatch) -> list[gate_cmd.LaneRun]:
    """Every run handed to ``simulate_lane`` (nothing is simulated)."""
    seen: list[gate_cmd.LaneRun] = []

    def record(run: gate_cmd.LaneRun) -> int:
        seen.append(run)
        return 0

    monkeypatch.setattr(gate_cmd, "simulate_lane", record)
    return seen


def test_demo_is_the_default_run_with_a_temporary_audit_log(
    runs: list[gate_cmd.LaneRun], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--no-pcsc", "--capture-timeout", "3", "--lane", "east-2"]) == 0
    (run,) = runs
    default = gate_cmd.LaneRun()
    # what the demo has no option for is the default run's
    for name in ("scenario", "travellers", "speed", "pack", "protocol", "keep_serving"):
        assert getattr(run, name) == getattr(default, name), name
    assert (run.use_pcsc, run.capture_timeout, run.lane) == (False, 3.0, "east-2")
    assert run.audit is not None and run.audit.name == "audit.db"  # temporary, then removed
    assert not run.audit.parent.exists()
    assert run.watch == LaneWatch()
    assert "temporary" in capsys.readouterr().out


def test_demo_keeps_the_audit_log_it_is_given(runs: list[gate_cmd.LaneRun], tmp_path: Path) -> None:
    audit = tmp_path / "kept.db"
    assert main(["demo", "--audit", str(audit), "--broker", "mqtt://127.0.0.1:1"]) == 0
    assert runs[0].audit == audit
    assert runs[0].watch == LaneWatch(broker="mqtt://127.0.0.1:1")
    assert runs[0].use_pcsc


def test_simulate_builds_the_same_run_with_its_own_options(
    runs: list[gate_cmd.LaneRun], tmp_path: Path
) -> None:
    scenario = tmp_path / "s.toml"  # read while the arguments are parsed: a real one
    scenario.write_bytes(
        (Path(gate_cmd.__file__).parents[1] / "simulate" / "default.toml").read_bytes()
    )
    argv = ["simulate", "--scenario", str(scenario), "--travellers", "7", "--speed", "4"]
    argv += ["--pack", "sface", "--protocol", "modbus", "--no-pcsc", "--keep-serving"]
    argv += ["--console", "127.0.0.1:0", "--site", "north", "--json", "-"]
    assert main(argv) == 0
    (run,) = runs
    assert run == gate_cmd.LaneRun(
        scenario=scenario,
        travellers=7,
        speed=4.0,
        use_pcsc=False,
        pack="sface",
        protocol="modbus",
        json="-",
        keep_serving=True,
        watch=LaneWatch(console="127.0.0.1:0", site="north"),
    )


def test_the_demo_takes_a_subset_of_the_simulators_options() -> None:
    parser = build_parser()
    simulate, demo = (_subparser(parser, name) for name in ("simulate", "demo"))
    flags = {flag for a in demo._actions for flag in a.option_strings}  # noqa: SLF001
    assert flags <= {flag for a in simulate._actions for flag in a.option_strings}  # noqa: SLF001


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--console", "--lanes", "2"], "--console"),
        (["--keep-serving", "--lanes", "3"], "--keep-serving"),
        (["--broker", "mqtt://h:1", "--lanes", "2"], "--broker"),
        (["--limit", "3"], "--limit"),
        (["--impostors", "similar"], "--impostors"),
    ],
)
def test_simulate_refuses_options_that_do_not_fit(
    runs: list[gate_cmd.LaneRun], capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    assert main(["simulate", *argv]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and named in lines[0]
    assert runs == []


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return action.choices[name]  # type: ignore[no-any-return]
    raise AssertionError(name)


SHARED = ("--pack", "--json", "--report", "--seed", "--no-pcsc", "--threads", "--scenario")


@pytest.mark.parametrize("flag", SHARED)
def test_shared_options_are_declared_once(flag: str) -> None:
    """No command module spells out a shared option: it calls ``gate.cli.options``."""
    for module in COMMANDS:
        path = Path(module.__file__ or "")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                given = [a.value for a in node.args if isinstance(a, ast.Constant)]
                where = f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
                assert flag not in given, f"{where} declares {flag}; use gate.cli.options"
