"""The report of ``egate bench soak --kiosk`` (``bench.kiosk_soak``): the lane process's
measures summarised, the median of each stage of the accepted travellers, the kiosk path as a
timeline after the MRZ written, and the Markdown an operator reads."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.soak import slope_per_100


@dataclass(frozen=True)
class ProcessSample:
    """The lane process after ``traveller`` travellers (0: before the first)."""

    traveller: int
    open_fds: int
    pcscd_sockets: int
    threads: int
    rss_mb: float


# The kiosk path in order (``stage_ms`` of the audit rows): the scan noticed, the chip read
# and the chip photo enrolled while the capture runs (``capture`` is what is left of it to
# wait for, ``capture.total`` the capture itself), the decision, the exit's travel.
STAGE_ORDER = (
    "mrz_to_start",
    "document",
    "enrol",
    "capture",
    "capture.total",
    "capture.read",
    "capture.embed",
    "capture.liveness",
    "verify",
    "decision_to_command",
    "document_to_exit_command",
    "exit_open",
)


def _accepted_stages(
    results: list[dict[str, Any]], written_at: list[float]
) -> Iterator[dict[str, float]]:
    """Each accepted traveller's ``stage_ms``, with ``mrz_to_start`` added."""
    for row, written in zip(results, written_at, strict=False):
        if row["outcome"] == "ACCEPT":
            stages = {str(k): float(v) for k, v in json.loads(str(row["stage_ms"])).items()}
            stages["mrz_to_start"] = (float(str(row["started_at"])) - written) * 1000.0
            yield stages


def stage_breakdown(results: list[dict[str, Any]], written_at: list[float]) -> dict[str, float]:
    """Median milliseconds of each stage of the accepted travellers (the lane's own
    ``stage_ms``), plus ``mrz_to_start``: from the MRZ written to the transaction started
    (the idle lane noticing the scan and asking its devices). Results follow the MRZ lines
    in order: one traveller at a time."""
    per_stage: dict[str, list[float]] = {}
    for stages in _accepted_stages(results, written_at):
        for name, value in stages.items():
            per_stage.setdefault(name, []).append(value)
    return {name: round(statistics.median(v), 1) for name, v in sorted(per_stage.items())}


# Milestones of an accepted traveller, in ms after the MRZ was written; the capture runs
# from the transaction's start (``egate run`` captures with the chip read).
TIMELINE = (
    ("started", ("mrz_to_start",)),
    ("chip_read_done", ("mrz_to_start", "document")),
    ("capture_done", ("mrz_to_start", "capture.total")),
    ("decided", ("mrz_to_start", "document_to_exit_command", "-decision_to_command")),
    ("exit_commanded", ("mrz_to_start", "document_to_exit_command")),
    ("exit_open_seen", ("mrz_to_start", "document_to_exit_command", "exit_open")),
)


def kiosk_timeline(results: list[dict[str, Any]], written_at: list[float]) -> dict[str, float]:
    """The median of each milestone (``TIMELINE``) over the accepted travellers."""
    per: dict[str, list[float]] = {}
    for stages in _accepted_stages(results, written_at):
        for name, parts in TIMELINE:
            keys = [part.lstrip("-") for part in parts]
            if all(key in stages for key in keys):
                signs = [-1.0 if part.startswith("-") else 1.0 for part in parts]
                total = sum(sign * stages[key] for sign, key in zip(signs, keys, strict=True))
                per.setdefault(name, []).append(total)
    return {name: round(statistics.median(per[name]), 1) for name, _ in TIMELINE if name in per}


def _spread(values: list[float]) -> dict[str, float | None]:
    """Median, min, max and the quartiles and 90th percentile (seconds, to the ms)."""
    if not values:
        return {k: None for k in ("median", "min", "p25", "p75", "p90", "max")}
    cuts = statistics.quantiles(values, n=20) if len(values) > 1 else [values[0]] * 19
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "p25": round(cuts[4], 3),
        "p75": round(cuts[14], 3),
        "p90": round(cuts[17], 3),
        "max": round(max(values), 3),
    }


def summarise_kiosk(
    samples: list[ProcessSample],
    decisions: list[str],
    travellers: int,
    mrz_to_exit_open: list[float],
) -> dict[str, Any]:
    tail = samples[len(samples) // 2 :]
    xs = [float(s.traveller) for s in tail]
    measures: dict[str, Any] = {}
    for name in ("open_fds", "pcscd_sockets", "threads", "rss_mb"):
        values = [float(getattr(s, name)) for s in samples]
        measures[name] = {
            "start": values[0] if values else None,
            "after_first": values[1] if len(values) > 1 else None,
            "end": values[-1] if values else None,
            "max": max(values) if values else None,
            "slope_per_100_travellers": round(
                slope_per_100(xs, [float(getattr(s, name)) for s in tail]), 3
            ),
        }
    expected = sum(d == "ACCEPT" for d in decisions)
    return {
        "mode": "kiosk",
        "travellers": travellers,
        "as_expected": expected,
        "share_as_expected": expected / travellers if travellers else 0.0,
        "decisions": {d: decisions.count(d) for d in sorted(set(decisions))},
        "measures": measures,
        "mrz_to_exit_open_s": _spread(mrz_to_exit_open),
        "samples": [s.__dict__ for s in samples],
    }


def _load_line(report: dict[str, Any]) -> list[str]:
    load = report.get("load_average")
    if not load:
        return []
    start, end = (" / ".join(f"{x:.2f}" for x in load[k]) for k in ("start", "end"))
    return [f"Load average (1/5/15 min) at the start {start}, at the end {end}"]


def kiosk_markdown(report: dict[str, Any]) -> str:
    timing = report["mrz_to_exit_open_s"]
    lines = [
        f"# Kiosk soak: {report['travellers']} travellers through `egate run`",
        "",
        f"Outcomes as expected (ACCEPT): {report['as_expected']}/{report['travellers']}; "
        f"lane exit code {report['exit_code']}; audit chain "
        f"{'intact' if report['audit_chain_ok'] else 'BROKEN'}",
        f"MRZ to exit open: median {timing['median']} s (min {timing['min']}, "
        f"p25 {timing.get('p25')}, p75 {timing.get('p75')}, p90 {timing.get('p90')}, "
        f"max {timing['max']}); at the camera {report.get('approach_s', 0):g} s before the scan",
        *_load_line(report),
        "",
        "| lane process | start | after 1st | end | max | slope per 100 (2nd half) |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in report["measures"].items():
        lines.append(
            f"| {name} | {m['start']} | {m['after_first']} | {m['end']} | {m['max']} | "
            f"{m['slope_per_100_travellers']:+.3f} |"
        )
    stages = report.get("stages_ms") or {}
    if stages:
        lines += ["", "| stage of an accepted traveller (median) | ms |", "|---|---|"]
        lines += [f"| {name} | {stages[name]} |" for name in STAGE_ORDER if name in stages]
    timeline = report.get("timeline_ms") or {}
    if timeline:
        lines += ["", "| kiosk path (median, after the MRZ written) | ms |", "|---|---|"]
        lines += [f"| {name} | {timeline[name]} |" for name, _ in TIMELINE if name in timeline]
    return "\n".join(lines) + "\n"
