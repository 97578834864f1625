"""The simulator's fidelity in a system test, and the figures per capture condition.

``margin_figures``: for each genuine transaction, how much of the matcher's margin on the
original images survives into the lane (the same measure ``egate bench render-fidelity``
takes outside the lane): (threshold - gate score) / (threshold - matcher distance), for the
pairs the matcher accepts. 1: the lane lost nothing; 0: the gate's score sits on the
threshold; below 0: rejected although the matcher accepts the original images. The shift is
the gate's score minus the matcher's distance.

``conditions_summary`` / ``conditions_markdown``: FTA, FRR and FAR per named condition
(``drivers.camera.conditions``) of one run, side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gate.errors import InputError
from gate.simulate.report import TravellerResult


def _quantiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p10": None, "p90": None}
    array = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.quantile(array, 0.5)),
        "p10": float(np.quantile(array, 0.1)),
        "p90": float(np.quantile(array, 0.9)),
    }


def margin_figures(
    results: Sequence[TravellerResult], distances: Sequence[float | None], threshold: float
) -> dict[str, Any]:
    """Margin kept and score shift of the genuine transactions that reached a score."""
    kept: list[float] = []
    shifts: list[float] = []
    for r, distance in zip(results, distances, strict=False):
        tx = r.transaction
        if r.kind != "genuine" or tx is None or tx.score is None or distance is None:
            continue
        shifts.append(float(tx.score) - distance)
        if distance < threshold:
            kept.append((threshold - float(tx.score)) / (threshold - distance))
    return {
        "pairs": len(kept),
        "margin_kept": _quantiles(kept),
        "shift": _quantiles(shifts),
        "note": "genuine transactions with a score whose original pair the matcher accepts",
    }


def conditions_summary(reports: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per condition: its axes, FTA, FRR, FAR, the matcher's FNMR and the margin kept."""
    out: dict[str, Any] = {}
    for name, report in reports.items():
        s, m = report["system"], report["matcher"]
        out[name] = {
            "conditions": report["run"].get("conditions"),
            "fta": s["fta"],
            "frr": s["frr"],
            "far": s["far"],
            "matcher_fnmr": m.get("fnmr"),
            "matcher_fmr": m.get("fmr"),
            "fidelity": s.get("fidelity"),
            "genuine_breakdown": s.get("genuine_breakdown", {}),
        }
    return out


def _pct(rate: Mapping[str, Any]) -> str:
    if rate.get("rate") is None:
        return "n/a"
    return f"{100 * rate['rate']:.1f} % ({rate['count']}/{rate['of']})"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fidelity_line(fidelity: Mapping[str, Any] | None) -> str:
    if not fidelity:
        return "margin kept: n/a"
    kept, shift = fidelity["margin_kept"], fidelity["shift"]
    return (
        f"margin kept median {_num(kept['median'])}, p10 {_num(kept['p10'])} "
        f"({fidelity['pairs']} pairs); score shift median {_num(shift['median'])}"
    )


def conditions_markdown(summary: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [
        "# egate system test by capture condition",
        "",
        "| condition | FTA | FRR | FAR | matcher FNMR | margin kept (median / p10) |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        fnmr = row["matcher_fnmr"]
        kept = (row.get("fidelity") or {}).get("margin_kept", {})
        lines.append(
            f"| {name} | {_pct(row['fta'])} | {_pct(row['frr'])} | {_pct(row['far'])} | "
            f"{'n/a' if fnmr is None else f'{100 * fnmr:.1f} %'} | "
            f"{_num(kept.get('median'))} / {_num(kept.get('p10'))} |"
        )
    lines += ["", "## Where genuine travellers were lost, by condition", ""]
    for name, row in summary.items():
        lines.append(f"- **{name}**: " + (
            ", ".join(f"{k}: {v}" for k, v in row["genuine_breakdown"].items()) or "none"
        ))  # fmt: skip
    lines += ["", "## The conditions", ""]
    for name, row in summary.items():
        axes = row.get("conditions") or {}
        lines.append(f"- **{name}**: " + ", ".join(f"{k} {v}" for k, v in axes.items()))
    lines += [
        "",
        "Each condition's own report (tables, times, every traveller) is in its folder.",
        "",
    ]
    return "\n".join(lines)


CONDITIONS_MD = "conditions.md"


def write_conditions_page(summary: Mapping[str, Mapping[str, Any]], folder: Path) -> Path:
    """``conditions.md`` (and ``conditions.json``) in ``folder``; returns the page."""
    import json

    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "conditions.json").write_text(
            json.dumps(summary, indent=2) + "\n", encoding="utf-8"
        )
        page = folder / CONDITIONS_MD
        page.write_text(conditions_markdown(summary), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{folder}: cannot write the conditions report ({exc.strerror})") from exc
    return page
