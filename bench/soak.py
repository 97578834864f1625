"""``egate bench soak``: one simulated lane serving many travellers, watched for leaks.

After every traveller the process's resident memory, thread count and open file
descriptors are sampled (from ``/proc/self``). The report gives each one's least-squares
slope per 100 travellers over the second half of the run (the first half includes start-up
and caches warming), its first and last values, and the share of outcomes as expected. A
lane that leaks shows a positive slope that does not flatten.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.optional import progress

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    traveller: int
    rss_mb: float
    threads: int
    open_files: int


def sample(index: int) -> Sample:
    """This process now: resident memory (MB), threads, open file descriptors."""
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return Sample(
        traveller=index,
        rss_mb=resident_pages * PAGE_BYTES / 1e6,
        threads=threading.active_count(),
        open_files=len(os.listdir("/proc/self/fd")),
    )


def slope_per_100(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs``, per 100 units of ``xs``."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return 0.0
    slope = float(np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0])
    return slope * 100.0


def summarise(samples: Sequence[Sample], expected: int, travellers: int) -> dict[str, Any]:
    """The soak report: per measure, first/last values and the slope per 100 travellers."""
    tail = list(samples[len(samples) // 2 :])
    xs = [float(s.traveller) for s in tail]
    measures: dict[str, Any] = {}
    for name in ("rss_mb", "threads", "open_files"):
        values = [float(getattr(s, name)) for s in samples]
        measures[name] = {
            "first": values[0] if values else None,
            "last": values[-1] if values else None,
            "max": max(values) if values else None,
            "slope_per_100_travellers": round(
                slope_per_100(xs, [float(getattr(s, name)) for s in tail]), 3
            ),
        }
    return {
        "travellers": travellers,
        "as_expected": expected,
        "share_as_expected": expected / travellers if travellers else 0.0,
        "measures": measures,
    }


def run_soak(
    travellers: int,
    *,
    speed: float = 1.0,
    use_pcsc: bool = True,
    pack: str | None = None,
    scenario_path: Path | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    from gate.simulate.runner import Simulation, SimulationOptions
    from gate.simulate.scenario import load_scenario

    scenario = load_scenario(scenario_path).repeated(travellers)
    options = SimulationOptions(speed=speed, use_pcsc=use_pcsc, pack=pack, status=None)
    samples: list[Sample] = []
    expected = 0
    unexpected: list[dict[str, Any]] = []
    with Simulation(scenario, options) as simulation:
        specs = list(enumerate(scenario.travellers))
        for index, spec in progress(specs, desc="soak", unit="traveller", enabled=show_progress):
            result = simulation.run_traveller(index, spec)
            expected += int(result.ok)
            if not result.ok:  # which ones, and why: a soak must say what went wrong
                unexpected.append(
                    {
                        "index": index,
                        "kind": spec.kind,
                        "expected": result.expected.value,
                        "actual": None if result.actual is None else result.actual.value,
                        "detail": result.error
                        or (result.transaction.detail if result.transaction else ""),
                    }
                )
            samples.append(sample(index))
    report = summarise(samples, expected, len(scenario.travellers))
    report["speed"] = speed
    report["unexpected"] = unexpected
    report["samples"] = [s.__dict__ for s in samples]
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Soak: {report['travellers']} travellers at speed {report['speed']:g}",
        "",
        f"Outcomes as expected: {report['as_expected']}/{report['travellers']} "
        f"({100 * report['share_as_expected']:.1f} %)",
        "",
        "| measure | first | last | max | slope per 100 travellers (2nd half) |",
        "|---|---|---|---|---|",
    ]
    for name, m in report["measures"].items():
        lines.append(
            f"| {name} | {m['first']:.1f} | {m['last']:.1f} | {m['max']:.1f} | "
            f"{m['slope_per_100_travellers']:+.3f} |"
        )
    for miss in report.get("unexpected", ()):
        lines.append(
            f"\n- traveller {miss['index']} ({miss['kind']}): expected {miss['expected']}, "
            f"got {miss['actual']}: {miss['detail']}"
        )
    return "\n".join(lines) + "\n"
