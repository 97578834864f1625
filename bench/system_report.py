"""The system report of a scenario test (ISO/IEC 19795-2 terms), beside the matcher alone.

Terms, as stated in the report:

- *transaction*: one traveller's attempt at the gate (document, capture, comparison, door);
  a traveller the simulator could not present (no face in the passport photo: a failure to
  enrol) makes no transaction and is listed apart.
- *FTA* (failure to acquire): transactions that ended ``REFER_CAPTURE`` (no usable face
  within the capture time), over all transactions.
- *system FRR*: genuine transactions not accepted, for any reason (FTA, quality, liveness,
  mismatch, device, time-out), over genuine transactions.
- *system FAR*: impostor transactions accepted, over impostor transactions.
- Intervals are 95 % Wilson score intervals; with tens of travellers they are wide.

The matcher-only figures are the same pack on the same pairs' original images at the gate's
threshold: the difference between the two columns is what the gate itself loses.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import optional
from bench.metrics import wilson_interval
from bench.system_conditions import fidelity_line, margin_figures
from gate.errors import InputError
from gate.outcome import Decision
from gate.simulate.report import TravellerResult

REPORT_MD = "report.md"
REPORT_JSON = "report.json"
OUTCOMES_PNG = "outcomes.png"
TIMES_PNG = "transaction_times.png"
STAGES_PNG = "stages.png"
QUANTILES = (0.5, 0.9, 0.95, 0.99)


def _rate(count: int, total: int) -> dict[str, Any]:
    interval = wilson_interval(count, total)
    return {
        "count": count,
        "of": total,
        "rate": count / total if total else None,
        "ci95": interval.as_dict(),
    }


def _distribution(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    array = np.asarray(values, dtype=np.float64)
    out: dict[str, Any] = {"n": int(array.size), "mean": float(array.mean())}
    for q in QUANTILES:
        out[f"p{round(q * 100)}"] = float(np.quantile(array, q))
    out["max"] = float(array.max())
    return out


def system_figures(results: Sequence[TravellerResult]) -> dict[str, Any]:
    """FTA, FRR, FAR with intervals, referral reasons and times, from the travellers."""
    done = [r for r in results if r.transaction is not None]
    genuine = [r for r in done if r.kind == "genuine"]
    impostor = [r for r in done if r.kind == "impostor"]
    fta = sum(r.actual is Decision.REFER_CAPTURE for r in done)
    false_rejects = sum(r.actual is not Decision.ACCEPT for r in genuine)
    false_accepts = sum(r.actual is Decision.ACCEPT for r in impostor)
    referrals: Counter[str] = Counter()
    genuine_losses: Counter[str] = Counter()
    for r in done:
        tx = r.transaction
        assert tx is not None
        reason = f"{tx.decision.value}: {tx.detail}" if tx.detail else tx.decision.value
        if tx.decision is not Decision.ACCEPT:
            referrals[reason] += 1
        if r.kind == "genuine" and tx.decision is not Decision.ACCEPT:
            genuine_losses[reason] += 1
    totals = [r.transaction.total_ms for r in done if r.transaction is not None]
    stages: dict[str, list[float]] = {}
    for r in done:
        assert r.transaction is not None
        for stage, ms in r.transaction.stage_ms.items():
            if stage != "total" and not stage.startswith("capture."):
                stages.setdefault(stage, []).append(float(ms))
    return {
        "travellers": len(results),
        "transactions": len(done),
        "not_presented": [
            {"name": r.name, "why": r.error} for r in results if r.transaction is None
        ],
        "genuine_transactions": len(genuine),
        "impostor_transactions": len(impostor),
        "fta": _rate(fta, len(done)),
        "frr": _rate(false_rejects, len(genuine)),
        "far": _rate(false_accepts, len(impostor)),
        "outcomes": dict(Counter(r.actual.value for r in done if r.actual is not None)),
        "referral_reasons": dict(referrals.most_common()),
        "genuine_losses": dict(genuine_losses.most_common()),
        "transaction_ms": _distribution(totals),
        "stage_ms": {name: _distribution(v) for name, v in sorted(stages.items())},
    }


def traveller_rows(results: Sequence[TravellerResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        tx = r.transaction
        rows.append(
            {
                "name": r.name,
                "kind": r.kind,
                "expected": r.expected.value,
                "outcome": r.actual.value if r.actual else None,
                "score": tx.score if tx else None,
                "threshold": tx.threshold if tx else None,
                "liveness": tx.liveness if tx else None,
                "transaction_ms": tx.total_ms if tx else None,
                "stage_ms": dict(tx.stage_ms) if tx else {},
                "detail": tx.detail if tx else r.error,
            }
        )
    return rows


def genuine_breakdown(
    results: Sequence[TravellerResult], distances: Sequence[float | None], threshold: float
) -> dict[str, int]:
    """Each genuine transaction by where it ended, the matcher alone as the reference: what
    the matcher already loses, and what the gate adds (capture, liveness, its own pictures)."""
    out: Counter[str] = Counter()
    for r, distance in zip(results, distances, strict=False):
        if r.kind != "genuine" or r.transaction is None:
            continue
        matcher_ok = distance is not None and distance <= threshold
        decision = r.transaction.decision
        if decision is Decision.ACCEPT:
            key = "accepted"
        elif decision is Decision.REFER_CAPTURE:
            key = "lost in capture (FTA)"
        elif decision is Decision.REFER_LIVENESS:
            key = "lost to liveness (a live person taken for an attack)"
        elif decision is Decision.REJECT_MISMATCH and not matcher_ok:
            key = "mismatch the matcher alone also makes"
        elif decision is Decision.REJECT_MISMATCH:
            key = "mismatch at the gate only (passport portrait vs camera frame)"
        else:
            key = f"lost otherwise ({decision.value})"
        out[key] += 1
    return dict(out.most_common())


def system_report(
    results: Sequence[TravellerResult],
    matcher: Mapping[str, Any],
    run: Mapping[str, Any],
) -> dict[str, Any]:
    figures = system_figures(results)
    distances = matcher.get("distances", [None] * len(results))
    figures["genuine_breakdown"] = genuine_breakdown(
        results, distances, float(matcher.get("threshold", 0.0))
    )
    figures["fidelity"] = margin_figures(results, distances, float(matcher.get("threshold", 0.0)))
    return {
        "kind": "system test (ISO/IEC 19795-2 scenario evaluation, simulated)",
        "run": dict(run),
        "system": figures,
        "matcher": {k: v for k, v in matcher.items() if k != "distances"},
        "losses": {
            "fta": figures["fta"]["rate"],
            "frr_minus_fnmr": _difference(figures["frr"]["rate"], matcher.get("fnmr")),
            "far_minus_fmr": _difference(figures["far"]["rate"], matcher.get("fmr")),
        },
        "travellers": [
            {**row, "matcher_distance": distance}
            for row, distance in zip(traveller_rows(results), distances, strict=False)
        ],
        "definitions": __doc__,
    }


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _pct(rate: dict[str, Any]) -> str:
    if rate["rate"] is None:
        return "n/a"
    low, high = 100 * rate["ci95"]["low"], 100 * rate["ci95"]["high"]
    return (
        f"{100 * rate['rate']:.1f} % ({rate['count']}/{rate['of']}; 95 % CI {low:.1f}-{high:.1f} %)"
    )


def _matcher_pct(value: float | None, count: int, total: int, ci: dict[str, float]) -> str:
    if value is None:
        return "n/a"
    low, high = 100 * ci["low"], 100 * ci["high"]
    return f"{100 * value:.1f} % ({count}/{total}; 95 % CI {low:.1f}-{high:.1f} %)"


def markdown(report: Mapping[str, Any]) -> str:
    s, m, run = report["system"], report["matcher"], report["run"]
    lines = [
        "# egate system test",
        "",
        f"Scenario: {run.get('scenario', '')}; {s['travellers']} travellers, "
        f"{s['transactions']} transactions ({s['genuine_transactions']} genuine, "
        f"{s['impostor_transactions']} impostor) in {run.get('lanes', 1)} lane(s), "
        f"{run.get('wall_s', 0):.1f} s wall-clock.",
        "",
        "| figure | gate (system) | matcher alone, same pairs |",
        "|---|---|---|",
        f"| failure to acquire (FTA) | {_pct(s['fta'])} | "
        f"{m['fta_pairs']}/{m['pairs']} pairs without a face |",
        f"| false reject rate (FRR) / FNMR | {_pct(s['frr'])} | "
        + _matcher_pct(m["fnmr"], m["false_non_matches"], m["genuine"], m["fnmr_ci95"])
        + " |",
        f"| false accept rate (FAR) / FMR | {_pct(s['far'])} | "
        + _matcher_pct(m["fmr"], m["false_matches"], m["impostor"], m["fmr_ci95"])
        + " |",
        "",
        f"Matcher: pack `{m['pack']}` at the gate's threshold {m['threshold']:.4f} on the "
        "original images. BSI TR-03121-3 asks a system FRR below 4 % at FAR <= 0.1 %.",
        "",
        f"Conditions: {(run.get('conditions') or {}).get('name', 'legacy scenes')}. "
        f"Simulator fidelity (genuine travellers): {fidelity_line(s.get('fidelity'))}; "
        "the share of the matcher's margin (threshold - distance) on the original images "
        "that survives into the lane (1: nothing lost; `egate bench render-fidelity`).",
        "",
        "## Where genuine travellers were lost",
        "",
        "Each genuine transaction by where it ended, beside the matcher alone on its images:",
        "",
        *(f"- {name}: {count}" for name, count in s.get("genuine_breakdown", {}).items()),
        "",
        "The gate's decisions and reasons for the genuine travellers it did not accept:",
        "",
        *(f"- {name}: {count}" for name, count in s["genuine_losses"].items()),
        *(["- none"] if not s["genuine_losses"] else []),
        "",
        "## Referral reasons (all travellers)",
        "",
        *(f"- {name}: {count}" for name, count in s["referral_reasons"].items()),
        *(["- none"] if not s["referral_reasons"] else []),
        "",
        "## Transaction times",
        "",
        "| stage | n | mean ms | p50 | p90 | p95 | max |",
        "|---|---|---|---|---|---|---|",
        _time_row("transaction (total)", s["transaction_ms"]),
        *(_time_row(name, d) for name, d in s["stage_ms"].items()),
        "",
        f"![outcomes]({OUTCOMES_PNG})",
        "",
        f"![transaction times]({TIMES_PNG})",
        "",
        f"![per-stage times]({STAGES_PNG})",
        "",
        "## Travellers",
        "",
        "| traveller | expected | outcome | score | matcher | liveness | ms |",
        "|---|---|---|---|---|---|---|",
        *(_traveller_row(t) for t in report["travellers"]),
    ]
    if s["not_presented"]:
        lines += ["", "Not presented (failure to enrol the passport photo):", ""]
        lines += [f"- {t['name']}: {t['why']}" for t in s["not_presented"]]
    lines += ["", "## Definitions", "", str(report["definitions"]).strip()]
    return "\n".join(lines) + "\n"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _time_row(name: str, d: Mapping[str, Any]) -> str:
    if not d.get("n"):
        return f"| {name} | 0 | - | - | - | - | - |"
    cells = [_num(d[k], 0) for k in ("mean", "p50", "p90", "p95", "max")]
    return f"| {name} | {d['n']} | " + " | ".join(cells) + " |"


def _traveller_row(t: Mapping[str, Any]) -> str:
    return (
        f"| {t['name']} | {t['expected']} | {t['outcome'] or 'not presented'} | "
        f"{_num(t['score'])} | {_num(t['matcher_distance'])} | {_num(t['liveness'], 2)} | "
        f"{_num(t['transaction_ms'], 0)} |"
    )


def plot(report: Mapping[str, Any], folder: Path) -> None:
    plt = optional.pyplot()
    rows = report["travellers"]
    kinds = sorted({t["kind"] for t in rows})
    outcomes = sorted({t["outcome"] or "not presented" for t in rows})
    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=110)
    bottom = np.zeros(len(kinds))
    for outcome in outcomes:
        counts = np.array(
            [
                sum((t["outcome"] or "not presented") == outcome and t["kind"] == k for t in rows)
                for k in kinds
            ],
            dtype=np.float64,
        )
        ax.barh(kinds, counts, left=bottom, label=outcome)
        bottom += counts
    ax.set_xlabel("travellers")
    ax.set_title("outcomes by traveller kind")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(folder / OUTCOMES_PNG)
    plt.close(fig)

    times = [t["transaction_ms"] / 1000.0 for t in rows if t["transaction_ms"] is not None]
    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=110)
    if times:
        ax.hist(times, bins=min(30, max(5, len(times) // 2)), color="tab:blue", alpha=0.7)
    ax.set_xlabel("transaction time (s)")
    ax.set_ylabel("travellers")
    ax.set_title("transaction-time distribution")
    fig.tight_layout()
    fig.savefig(folder / TIMES_PNG)
    plt.close(fig)

    stage_names = sorted({k for t in rows for k in t["stage_ms"] if k != "total" and "." not in k})
    data = [[t["stage_ms"][k] for t in rows if k in t["stage_ms"]] for k in stage_names]
    fig, ax = plt.subplots(figsize=(6.4, 0.4 * max(3, len(stage_names)) + 1.2), dpi=110)
    if stage_names:
        ax.boxplot(data, orientation="horizontal", showfliers=True)
        ax.set_yticks(range(1, len(stage_names) + 1), stage_names)
    ax.set_xlabel("ms")
    ax.set_title("per-stage times")
    fig.tight_layout()
    fig.savefig(folder / STAGES_PNG)
    plt.close(fig)


def write_system_report(report: Mapping[str, Any], folder: Path) -> Path:
    """report.md, report.json and the plots into ``folder``; returns the Markdown page."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        page = folder / REPORT_MD
        page.write_text(markdown(report), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{folder}: cannot write the system report ({exc.strerror})") from exc
    plot(report, folder)
    return page
