"""``egate simulate --dataset ... --sweep AXIS=V1,V2,...``: the system's figures against one
capture condition's axis (``drivers.camera.conditions``), every other axis held at the base
condition's value.

``sweep_summary`` lists, per swept value, FTA, FRR and FAR with their counts and 95 %
Wilson intervals, the matcher's FNMR on the same pairs (it does not depend on the value:
the travellers are the same people) and the margin kept; ``plot_sweep`` draws FRR (and
FTA) against the value, the matcher's FNMR as the floor the gate cannot go below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import optional
from gate.errors import InputError

SWEEP_PNG = "sweep.png"


def sweep_summary(
    axis: str, values: Sequence[float | int | bool], reports: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """``reports``: one system report per swept value, in the order of ``values``."""
    if len(values) != len(reports):
        raise ValueError("one report per swept value is needed")
    rows = []
    for value, (name, report) in zip(values, reports.items(), strict=True):
        s, m = report["system"], report["matcher"]
        kept = (s.get("fidelity") or {}).get("margin_kept", {})
        rows.append(
            {
                "value": value,
                "condition": name,
                "fta": s["fta"],
                "frr": s["frr"],
                "far": s["far"],
                "matcher_fnmr": m.get("fnmr"),
                "margin_kept_median": kept.get("median"),
                "margin_kept_p10": kept.get("p10"),
                "genuine_breakdown": s.get("genuine_breakdown", {}),
            }
        )
    return {"axis": axis, "rows": rows}


def _pct(rate: Mapping[str, Any]) -> str:
    if rate.get("rate") is None:
        return "n/a"
    return f"{100 * rate['rate']:.1f} % ({rate['count']}/{rate['of']})"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def sweep_markdown(summary: Mapping[str, Any]) -> str:
    axis = summary["axis"]
    lines = [
        f"# egate system test: FRR against {axis}",
        "",
        f"![FRR against {axis}]({SWEEP_PNG})",
        "",
        f"| {axis} | FTA | FRR | FAR | matcher FNMR | margin kept (median / p10) | genuine lost |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary["rows"]:
        fnmr = row["matcher_fnmr"]
        lost = ", ".join(f"{k}: {v}" for k, v in row["genuine_breakdown"].items()) or "none"
        lines.append(
            f"| {row['value']} | {_pct(row['fta'])} | {_pct(row['frr'])} | {_pct(row['far'])} | "
            f"{'n/a' if fnmr is None else f'{100 * fnmr:.1f} %'} | "
            f"{_num(row['margin_kept_median'])} / {_num(row['margin_kept_p10'])} | {lost} |"
        )
    lines += ["", "Each value's own report is in the folder named after its condition.", ""]
    return "\n".join(lines)


def sweep_line(summary: Mapping[str, Any]) -> str:
    parts = [f"{summary['axis']}={row['value']}: FRR {_pct(row['frr'])}" for row in summary["rows"]]
    return "sweep: " + "; ".join(parts)


def plot_sweep(summary: Mapping[str, Any], path: Path) -> None:
    """FRR with its 95 % interval and FTA against the swept value; the matcher's FNMR."""
    plt = optional.pyplot()
    rows = summary["rows"]
    xs = [float(row["value"]) for row in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    frr = [100 * (row["frr"]["rate"] or 0.0) for row in rows]
    low = [100 * row["frr"]["ci95"]["low"] for row in rows]
    high = [100 * row["frr"]["ci95"]["high"] for row in rows]
    errors = [[f - lo for f, lo in zip(frr, low, strict=True)],
              [hi - f for f, hi in zip(frr, high, strict=True)]]  # fmt: skip
    ax.errorbar(xs, frr, yerr=errors, marker="o", capsize=3, label="system FRR (95 % CI)")
    fta = [100 * (row["fta"]["rate"] or 0.0) for row in rows]
    ax.plot(xs, fta, marker="s", linestyle="--", label="FTA")
    fnmr = [row["matcher_fnmr"] for row in rows if row["matcher_fnmr"] is not None]
    if fnmr:
        ax.axhline(100 * fnmr[0], color="black", linestyle=":", label="matcher FNMR (same pairs)")
    ax.axhline(4.0, color="grey", linestyle="-.", linewidth=0.8, label="FRR 4 % (BSI TR-03121)")
    ax.set_xlabel(summary["axis"])
    ax.set_ylabel("% of genuine travellers")
    ax.set_ylim(bottom=0)
    ax.set_title(f"System FRR against {summary['axis']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_sweep_page(summary: Mapping[str, Any], folder: Path) -> Path:
    """``sweep.md``, ``sweep.json`` and ``sweep.png`` in ``folder``; returns the page."""
    import json

    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sweep.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        plot_sweep(summary, folder / SWEEP_PNG)
        page = folder / "sweep.md"
        page.write_text(sweep_markdown(summary), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{folder}: cannot write the sweep report ({exc.strerror})") from exc
    return page
