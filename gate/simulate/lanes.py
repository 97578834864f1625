"""Several simulated lanes side by side, one process each, their results merged.

Each lane is a whole ``Simulation`` in its own process (spawned, not forked: the lane runs
threads): its own vpcd reader, turnstile emulator on its own pty, synthetic camera served on
its own port, and its own audit log. Travellers are dealt out round-robin and keep their
index in the scenario, so passports, camera scenes and the merged result are the same
whatever the number of lanes. With PC/SC, this process holds pcscd for the whole run, so
the daemon outlives every lane and is stopped once, at the end.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import sys
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from gate.errors import GateError
from gate.simulate.report import TravellerResult
from gate.simulate.runner import Simulation, SimulationOptions
from gate.simulate.scenario import Scenario

MAX_LANES = 64


def lane_audit_path(path: Path | None, lane: int, lanes: int) -> Path | None:
    """Lane ``lane``'s own audit log: ``audit.lane2.db`` beside ``audit.db`` (None: a
    temporary log in the lane's folder)."""
    if path is None or lanes == 1:
        return path
    return path.with_name(f"{path.stem}.lane{lane + 1}{path.suffix}")


def lane_indices(count: int, lanes: int) -> list[list[int]]:
    return [list(range(lane, count, lanes)) for lane in range(lanes)]


def _run_lane(
    scenario: Scenario, options: SimulationOptions, indices: list[int]
) -> tuple[list[TravellerResult], str]:
    """One lane process: its travellers' results, or an error line (never a traceback)."""
    try:
        with Simulation(scenario, options) as simulation:
            return simulation.run(indices), ""
    except GateError as exc:
        return [], str(exc)


def run_lanes(scenario: Scenario, options: SimulationOptions, lanes: int) -> list[TravellerResult]:
    """Every traveller through ``lanes`` lanes; results in scenario order."""
    if not 1 <= lanes <= MAX_LANES:
        raise GateError(f"--lanes must be 1..{MAX_LANES}, got {lanes}")
    count = len(scenario.travellers)
    if lanes == 1:
        with Simulation(scenario, options) as simulation:
            return simulation.run()
    lanes = min(lanes, count)
    with ExitStack() as stack:
        if options.use_pcsc:
            from drivers.chip.pcscd import PcscDaemon

            daemon = PcscDaemon()
            daemon.start()
            stack.callback(daemon.close)
        context = multiprocessing.get_context("spawn")
        pool = stack.enter_context(
            concurrent.futures.ProcessPoolExecutor(max_workers=lanes, mp_context=context)
        )
        futures = []
        for lane, indices in enumerate(lane_indices(count, lanes)):
            lane_options = replace(
                options,
                status=None,  # one terminal line cannot show N lanes: the parent reports
                observers=(),
                audit_path=lane_audit_path(options.audit_path, lane, lanes),
                workdir=None,
            )
            futures.append(pool.submit(_run_lane, scenario, lane_options, indices))
        results: list[TravellerResult] = []
        errors = []
        for lane, future in enumerate(futures):
            lane_results, error = future.result()
            if error:
                errors.append(f"lane {lane + 1}: {error}")
            results.extend(lane_results)
            if options.status is not None:
                print(f"lane {lane + 1}: {len(lane_results)} travellers", file=sys.stderr)
    if errors:
        raise GateError("; ".join(errors))
    return sorted(results, key=lambda r: r.index)
