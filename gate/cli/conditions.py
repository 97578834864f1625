"""``--conditions`` (capture conditions: presets or TOML files) for ``egate simulate`` and
``egate bench render-fidelity``: one declaration, shared by both command modules; and
``--sweep AXIS=V1,V2,...`` (``egate simulate --dataset``: one axis of a condition swept)."""

from __future__ import annotations

import argparse
from typing import Any


def conditions_type(text: str) -> tuple[Any, ...]:
    """argparse type of ``--conditions`` (a ConfigError becomes one line, exit 2)."""
    from drivers.camera.conditions import conditions_argument
    from gate.errors import ConfigError

    try:
        return conditions_argument(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_conditions_option(
    parser: argparse.ArgumentParser, default: str | None = None, sweep: bool = False
) -> None:
    """``--conditions`` (and with ``sweep``, ``--sweep``)."""
    parser.add_argument(
        "--conditions",
        type=conditions_type,
        default=default,  # argparse runs a string default through ``type``
        metavar="C[,C...]",
        help="capture conditions: presets (ideal, typical, harsh) or TOML files with a "
        "[conditions] table, comma-separated; each is run and reported apart "
        f"(docs/evaluation.md){'; default ' + default if default else ''}",
    )
    if sweep:
        add_sweep_option(parser)


def scenario_with_conditions(scenario: Any, conditions: tuple[Any, ...] | None) -> Any:
    """A scenario file's run with ``--conditions`` (one condition: a dataset run reports
    several side by side, a scenario's table of travellers does not)."""
    from dataclasses import replace

    from gate.errors import InputError

    if not conditions:
        return scenario
    if len(conditions) > 1:
        raise InputError("--conditions with several conditions needs --dataset")
    return replace(scenario, conditions=conditions[0])


def sweep_type(text: str) -> Any:
    """argparse type of ``--sweep`` (a ConfigError becomes one line, exit 2)."""
    from drivers.camera.conditions import sweep_argument
    from gate.errors import ConfigError

    try:
        return sweep_argument(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_sweep_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sweep",
        type=sweep_type,
        default=None,
        metavar="AXIS=V1,V2,...",
        help="with --dataset: run the condition (--conditions, one; default ideal) at each "
        "value of one axis (e.g. yaw=0,15,30, light_level=1,0.5,0.25) and plot FRR against "
        "it (sweep.png beside the report)",
    )


def lane_conditions(args: argparse.Namespace) -> tuple[Any, ...] | None:
    """``--conditions`` of a simulated run; ``--sweep`` is refused without ``--dataset``."""
    from gate.errors import InputError

    if getattr(args, "sweep", None) is not None and getattr(args, "dataset", None) is None:
        raise InputError("--sweep needs --dataset")
    conditions: tuple[Any, ...] | None = args.conditions
    return conditions


def conditions_to_run(conditions: tuple[Any, ...] | None, sweep: Any) -> tuple[Any, ...]:
    """The conditions a dataset run goes through: ``--conditions`` as given (none: the
    legacy scenes), or with ``--sweep`` its one condition at each swept value."""
    from drivers.camera.conditions import PRESETS
    from gate.errors import InputError

    if sweep is None:
        return conditions or (None,)
    if conditions and len(conditions) > 1:
        raise InputError("--sweep varies one condition: give at most one with --conditions")
    base = conditions[0] if conditions else PRESETS["ideal"]
    return tuple(sweep.conditions(base))
