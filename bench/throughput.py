"""``egate bench throughput``: travellers through the simulated lane, hardware in the loop.

Each run drives N travellers through ``gate.simulate`` (the real pty turnstile emulator and
driver, the PC/SC chip path, the MJPEG camera read back through OpenCV, the audit log) at
one time scale: 1 = real physical timings (doors, walking), >1 = accelerated. It reports
travellers per wall-clock hour (at speed 1: what a lane on this computer sustains; when
accelerated: how fast the simulator runs), per-stage p50/p95/p99 in wall-clock
milliseconds, the process's CPU use and the camera's dropped frames.
"""

from __future__ import annotations

import math
import resource
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gate.lane import ReopeningStats

PERCENTILES = (50, 95, 99)


def distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean and p50/p95/p99 (linear interpolation) of a list of milliseconds."""
    array = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if array.size == 0:
        return {"n": 0, "mean": None, **{f"p{p}": None for p in PERCENTILES}}
    quantiles = np.percentile(array, PERCENTILES)
    out: dict[str, float | int | None] = {"n": int(array.size), "mean": float(array.mean())}
    out.update({f"p{p}": float(q) for p, q in zip(PERCENTILES, quantiles, strict=True)})
    return out


# Stage keys the capture pipeline measures with perf_counter (wall clock) itself; the
# controller's other stages are measured on the gate's clock, which runs ``speed`` times
# faster than the wall in an accelerated simulation.
WALL_CLOCK_PREFIX = "capture."


def stage_distributions(
    results: Sequence[Any], speed: float = 1.0
) -> dict[str, dict[str, float | int | None]]:
    """Per gate stage (``Transaction.stage_ms`` keys) in wall-clock milliseconds, over the
    travellers that reached it."""
    samples: dict[str, list[float]] = {}
    for result in results:
        tx = getattr(result, "transaction", None)
        if tx is None:
            continue
        for stage, ms in tx.stage_ms.items():
            scale = 1.0 if stage.startswith(WALL_CLOCK_PREFIX) else 1.0 / speed
            samples.setdefault(stage, []).append(float(ms) * scale)
    return {stage: distribution(values) for stage, values in sorted(samples.items())}


def cpu_seconds() -> float:
    """User + system CPU of this process (all its threads) and its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def summarise_run(
    results: Sequence[Any],
    *,
    speed: float,
    wall_s: float,
    cpu_s: float,
    cores: int,
    camera: dict[str, int] | None,
    setup_s: float,
) -> dict[str, Any]:
    """The JSON block for one run (one speed)."""
    count = len(results)
    decisions = Counter(
        r.transaction.decision.value if r.transaction is not None else "ERROR" for r in results
    )
    per_hour = 3600.0 * count / wall_s if wall_s > 0 else math.inf
    # The simulator's own work per traveller (issuing the passport, rendering the scene)
    # is not the gate's: the gate-only rate counts the time inside serve_one alone.
    gate_ms = [float(r.timings_ms["gate"]) for r in results if "gate" in r.timings_ms]
    prepare_ms = [float(r.timings_ms["prepare"]) for r in results if "prepare" in r.timings_ms]
    gate_rate = 3600.0 * len(gate_ms) / (sum(gate_ms) / 1000.0) if sum(gate_ms) > 0 else None
    return {
        "speed": speed,
        "travellers": count,
        "as_expected": sum(1 for r in results if r.ok),
        "decisions": dict(sorted(decisions.items())),
        "errors": [r.error for r in results if r.error][:10],
        "wall_s": wall_s,
        "setup_s": setup_s,
        "travellers_per_hour": per_hour,
        "travellers_per_hour_gate_only": gate_rate,
        "simulator_ms": {"prepare": distribution(prepare_ms), "gate": distribution(gate_ms)},
        "seconds_per_traveller": wall_s / count if count else None,
        "cpu_s": cpu_s,
        "cpu_percent_of_one_core": 100.0 * cpu_s / wall_s if wall_s > 0 else None,
        "cpu_percent_of_machine": 100.0 * cpu_s / (wall_s * cores) if wall_s > 0 else None,
        "camera": camera,
        "stages_ms": stage_distributions(results, speed=speed),
        "transaction_ms": distribution(
            [r.transaction.total_ms / speed for r in results if r.transaction is not None]
        ),
    }


def camera_counters(camera: Any) -> dict[str, int] | None:
    """Frame counters of the lane camera, or None when it keeps none.

    The simulator's camera is ``gate.lane.resilient.ReopeningCamera``: its ``stats`` hold
    how often it opened its source and that source's own counters.
    """
    stats = getattr(camera, "stats", None)
    if not isinstance(stats, ReopeningStats) or stats.frames_captured is None:
        return None
    return {
        "frames_captured": stats.frames_captured,
        "frames_dropped": stats.frames_dropped or 0,
        "frames_delivered": stats.frames_delivered or 0,
        "reconnects": stats.reconnects or 0,
        "reopened": stats.opened,
    }


def run_throughput(
    travellers: int,
    speed: float,
    *,
    use_pcsc: bool = True,
    pack: str | None = None,
    scenario_path: Path | None = None,
) -> dict[str, Any]:
    """Put ``travellers`` through one simulated lane at ``speed`` and summarise."""
    from bench.environment import usable_cores
    from gate.simulate.runner import Simulation, SimulationOptions
    from gate.simulate.scenario import load_scenario

    scenario = load_scenario(scenario_path).repeated(travellers)
    options = SimulationOptions(speed=speed, use_pcsc=use_pcsc, pack=pack, status=None)
    begun = time.perf_counter()
    with Simulation(scenario, options) as simulation:
        setup_s = time.perf_counter() - begun
        cpu_start, wall_start = cpu_seconds(), time.perf_counter()
        results = simulation.run()
        wall_s = time.perf_counter() - wall_start
        cpu_s = cpu_seconds() - cpu_start
        camera = camera_counters(simulation.camera)
    summary = summarise_run(
        results,
        speed=speed,
        wall_s=wall_s,
        cpu_s=cpu_s,
        cores=usable_cores(),
        camera=camera,
        setup_s=setup_s,
    )
    summary["scenario"] = scenario.name
    summary["pcsc"] = use_pcsc
    return summary


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _ms(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def markdown(report: dict[str, Any]) -> str:
    """One column per speed; one row per stage percentile."""
    runs = report["runs"]
    head = "| | " + " | ".join(f"speed {r['speed']:g}" for r in runs) + " |"
    rule = "|---|" + "---|" * len(runs)

    def row(name: str, cells: list[str]) -> str:
        return f"| {name} | " + " | ".join(cells) + " |"

    def cam(r: dict[str, Any], key: str) -> str:
        return "-" if r["camera"] is None else str(r["camera"][key])

    lines = [
        "# Gate throughput",
        "",
        f"Scenario `{runs[0]['scenario']}` repeated to {runs[0]['travellers']} travellers; "
        f"chips over {'PC/SC (pcscd + vpcd)' if runs[0]['pcsc'] else 'an in-process link'}, "
        "turnstile emulator on a pty, camera over MJPEG/HTTP through OpenCV.",
        "",
        head,
        rule,
        row("travellers as expected", [f"{r['as_expected']}/{r['travellers']}" for r in runs]),
        row("wall time (s)", [f"{r['wall_s']:.1f}" for r in runs]),
        row("travellers per hour (wall clock)", [f"{r['travellers_per_hour']:.0f}" for r in runs]),
        row(
            "travellers per hour, gate time only",
            [_rate(r.get("travellers_per_hour_gate_only")) for r in runs],
        ),
        row(
            "simulator set-up per traveller p50 (ms)",
            [_ms(r.get("simulator_ms", {}).get("prepare", {}).get("p50")) for r in runs],
        ),
        row("CPU (% of one core)", [f"{r['cpu_percent_of_one_core']:.0f}" for r in runs]),
        row(
            "camera frames dropped / captured",
            [f"{cam(r, 'frames_dropped')} / {cam(r, 'frames_captured')}" for r in runs],
        ),
        row("decisions", [", ".join(f"{k} {v}" for k, v in r["decisions"].items()) for r in runs]),
    ]
    stages = sorted({stage for r in runs for stage in r["stages_ms"]})
    for stage in stages:
        cells = []
        for r in runs:
            d = r["stages_ms"].get(stage)
            cells.append(
                "-" if d is None else f"{_ms(d['p50'])} / {_ms(d['p95'])} / {_ms(d['p99'])}"
            )
        lines.append(row(f"`{stage}` p50/p95/p99 ms", cells))
    env = report["environment"]
    lines += [
        "",
        "At speed 1 the rate is what one lane sustains on this computer with real door and "
        "walking times, the simulator's own work per traveller included (issuing the "
        "passport, rendering the scene); the gate-only rate counts the gate's transactions "
        "alone. Accelerated, the rates say how fast the simulation runs. Stage times are "
        "wall-clock milliseconds: at speed > 1 the physical stages (doors, passage) shrink "
        "by the speed, computing stages do not. Dropped frames: frames the live camera "
        "replaced in its one-frame buffer before the gate read them (it reads only while "
        "capturing). `capture.*` stages are summed over the frames of one capture.",
        "",
        f"Command: `{env['command']}`; CPU: {env['cpu']}, {env['cores']} usable cores.",
        "",
    ]
    return "\n".join(lines)
