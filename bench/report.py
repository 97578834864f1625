"""Accuracy reports: JSON, a Markdown page, a DET curve and score histograms (PNG).

Several packs appear side by side: one table column and one DET line per pack.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import optional
from bench.accuracy import PackResult
from bench.metrics import TARGET_FMRS
from gate.errors import InputError

DET_PNG = "det.png"
HISTOGRAM_PNG = "scores.png"
REPORT_MD = "report.md"
REPORT_JSON = "report.json"


def write_json(report: dict[str, Any], path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the JSON report ({exc.strerror})") from exc


def _decade_below(value: float) -> float:
    return float(10 ** math.floor(math.log10(max(value, 1e-12))))


def plot_det(results: Sequence[PackResult], path: Path) -> None:
    """FNMR against FMR on log axes, one line per pack, target FMRs marked."""
    plt = optional.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    x_floor = y_floor = 1.0
    for result in results:
        det = result.summary["det"]
        fmr = np.asarray(det["fmr"], dtype=np.float64)
        fnmr = np.asarray(det["fnmr"], dtype=np.float64)
        n_imp = max(1, int(result.summary["impostor_comparisons"]))
        n_gen = max(1, int(result.summary["genuine_comparisons"]))
        # Zero rates cannot sit on a log axis: draw them at half of one comparison.
        fmr_floor, fnmr_floor = 0.5 / n_imp, 0.5 / n_gen
        x_floor, y_floor = min(x_floor, fmr_floor), min(y_floor, fnmr_floor)
        label = f"{result.pack_id} (EER {100 * result.summary['eer']:.2f} %)"
        (line,) = ax.step(
            np.maximum(fmr, fmr_floor), np.maximum(fnmr, fnmr_floor), where="post", label=label
        )
        # The operating points the report's table gives: dots at the target FMRs, a cross
        # at the pack's default threshold.
        points = list(result.summary["operating_points"].values())
        ax.plot(
            [max(p["fmr"], fmr_floor) for p in points],
            [max(p["fnmr"], fnmr_floor) for p in points],
            "o",
            color=line.get_color(),
            markersize=4,
        )
        if result.summary.get("fmr_at_default_threshold") is not None:
            ax.plot(
                max(result.summary["fmr_at_default_threshold"], fmr_floor),
                max(result.summary["fnmr_at_default_threshold"], fnmr_floor),
                "x",
                color=line.get_color(),
                markersize=7,
            )
    x_low, y_low = _decade_below(x_floor), _decade_below(y_floor)
    for key in TARGET_FMRS:
        if float(key) >= x_low:
            ax.axvline(float(key), color="grey", linestyle=":", linewidth=0.8)
            ax.text(
                float(key),
                y_low,
                f" FMR {key}",
                rotation=90,
                va="bottom",
                ha="right",
                fontsize=7,
                color="grey",
            )
    diagonal = np.array([min(x_low, y_low), 1.0])
    ax.plot(diagonal, diagonal, color="lightgrey", linewidth=0.8, label="FMR = FNMR")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_low, 1.0)
    ax.set_ylim(y_low, 1.0)
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    ax.set_title(
        "DET curve (lower left is better)\no: target FMRs, x: default threshold", fontsize=10
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_histograms(results: Sequence[PackResult], path: Path) -> None:
    """Genuine and impostor distance densities per pack, with the thresholds marked."""
    plt = optional.pyplot()
    fig, axes = plt.subplots(
        len(results), 1, figsize=(6.4, 3.2 * len(results)), dpi=110, squeeze=False
    )
    for ax, result in zip(axes[:, 0], results, strict=True):
        genuine = result.genuine[np.isfinite(result.genuine)]
        impostor = result.impostor
        finite_impostors = impostor.total - impostor.infinite
        ends = [
            float(v)
            for v in (
                impostor.value_at_rank(0),
                impostor.value_at_rank(max(0, finite_impostors - 1)),
            )
            if np.isfinite(v)
        ]
        both = np.concatenate((genuine, ends))
        if both.size == 0:
            ax.set_title(f"{result.pack_id}: no scores")
            continue
        edges = np.linspace(float(both.min()), float(both.max()) + 1e-9, 81)
        widths = np.diff(edges)
        for counts, size, name, colour in (
            (np.histogram(genuine, bins=edges)[0], genuine.size, "genuine", "tab:green"),
            (impostor.histogram(edges), finite_impostors, "impostor", "tab:red"),
        ):
            if size and counts.sum():
                ax.stairs(
                    counts / (counts.sum() * widths),
                    edges,
                    fill=True,
                    alpha=0.4,
                    color=colour,
                    label=f"{name} ({size})",
                )
        for key in TARGET_FMRS:
            threshold = result.summary["operating_points"][key]["threshold"]
            if threshold is not None:
                ax.axvline(threshold, color="black", linestyle=":", linewidth=0.8)
                ax.text(
                    threshold,
                    ax.get_ylim()[1],
                    f"{key}",
                    fontsize=7,
                    va="top",
                    ha="right",
                    rotation=90,
                )
        ax.set_title(f"{result.pack_id}: distance distributions ({result.summary['distance']})")
        ax.set_xlabel("distance (lower = more similar)")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def _tar_cell(point: dict[str, Any]) -> str:
    if not point["supported"]:
        return f"{_pct(point['tar'])} (too few impostors)"
    ci = point["tar_ci95"]
    return f"{_pct(point['tar'])} [{_pct(ci['low'])}, {_pct(ci['high'])}]"


def markdown(report: dict[str, Any]) -> str:
    """The human-readable report, one column per pack."""
    packs = report["packs"]
    data = report["dataset"]
    env = report["environment"]
    header = "| | " + " | ".join(f"`{p['pack']}`" for p in packs) + " |"
    rule = "|---|" + "---|" * len(packs)

    def row(name: str, cells: list[str]) -> str:
        return f"| {name} | " + " | ".join(cells) + " |"

    lines = [
        "# Face verification accuracy",
        "",
        f"Dataset: `{data['source']}` ({data['format']}): {data['images']} images, "
        f"{data['pairs']} listed pairs ({data['genuine_pairs']} genuine, "
        f"{data['impostor_pairs']} impostor)"
        + (f", {data['identities']} identities." if data["identities"] is not None else "."),
        "",
        _embedding_line(packs[0].get("embedding_options", {})),
        "",
        header,
        rule,
        row("distance", [p["distance"] for p in packs]),
        row(
            "images failing to acquire (FTA)",
            [f"{p['fta_images']} ({_pct(p['fta_rate'])})" for p in packs],
        ),
        row("genuine comparisons", [str(p["genuine_comparisons"]) for p in packs]),
        row("impostor comparisons", [str(p["impostor_comparisons"]) for p in packs]),
        row("EER", [_pct(p["eer"], 3) for p in packs]),
    ]
    for key in TARGET_FMRS:
        lines.append(
            row(
                f"TAR at FMR {key} [95 % CI]",
                [_tar_cell(p["operating_points"][key]) for p in packs],
            )
        )
        lines.append(
            row(
                f"threshold at FMR {key}",
                [_threshold(p["operating_points"][key]["threshold"]) for p in packs],
            )
        )
    lines += [
        row(
            "default threshold",
            [
                f"{_threshold(p['default_threshold'])} ({p.get('default_threshold_source', '')})"
                for p in packs
            ],
        ),
        row(
            "accuracy at default threshold (listed pairs)",
            [_pct(p["accuracy_at_default_threshold"]) for p in packs],
        ),
        row("images per second", [_rate(p["images_per_second"]) for p in packs]),
        "",
        "Impostor comparisons: "
        + "; ".join(f"`{p['pack']}`: {p['impostor_source']}" for p in packs)
        + ".",
        *[_scoring_line(p) for p in packs if "impostor_scoring" in p],
        "",
        "## How failures to acquire were counted",
        "",
        report["fta_policy"],
        "",
        *[
            f"- `{p['pack']}`: {p['fta_pairs']['genuine']} genuine and "
            f"{p['fta_pairs']['impostor']} listed impostor pairs involve an image that failed "
            f"to acquire; reasons: {_reasons(p['fta_reasons'])}"
            for p in packs
        ],
        "",
        "## Method",
        "",
        report["threshold_rule"][:1].upper() + report["threshold_rule"][1:] + ".",
        "Impostors expanded across identities reuse each image many times: the comparisons "
        "are not independent, so the intervals are optimistic.",
        "",
        f"![DET curve]({DET_PNG})",
        "",
        f"![Score distributions]({HISTOGRAM_PNG})",
        "",
        "## Environment",
        "",
        f"- command: `{env['command']}`",
        f"- CPU: {env['cpu']}, {env['cores']} usable cores; Python {env['python']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v),
        *[
            f"- pack `{p['pack']}`: manifest sha256 `{p['manifest_sha256'][:16]}`"
            for p in env["packs"]
        ],
        "",
    ]
    return "\n".join(lines)


def _scoring_line(pack: dict[str, Any]) -> str:
    scoring = pack["impostor_scoring"]
    if scoring["exact"]:
        return ""
    return (
        f"`{pack['pack']}`'s impostors were scored in blocks into {scoring['bins']} bins of "
        f"width {scoring['bin_width']:.2g} plus the exact lowest {scoring['exact_lowest']} "
        f"distances: every figure whose threshold is below {scoring['exact_below']:.6f} "
        "(EER, thresholds and TARs at low FMR) is exact; higher DET points are read from the "
        "bins."
    )


def _embedding_line(options: dict[str, Any]) -> str:
    upsample = int(options.get("upsample", 0))
    face = options.get("face", "largest")
    size = f"doubled {upsample} time(s) before detection" if upsample else "used as they are"
    which = "the one nearest the centre" if face == "centre" else "the largest"
    return f"Pictures {size}; where several faces are found, {which} is compared."


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _threshold(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _reasons(reasons: dict[str, int]) -> str:
    if not reasons:
        return "none"
    return ", ".join(f"{name} x{count}" for name, count in sorted(reasons.items()))


def write_report(report: dict[str, Any], results: Sequence[PackResult], folder: Path) -> Path:
    """Write report.md, report.json, det.png and scores.png into ``folder``; return the .md."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create the report folder ({exc.strerror})") from exc
    write_json(report, folder / REPORT_JSON)
    plot_det(results, folder / DET_PNG)
    plot_histograms(results, folder / HISTOGRAM_PNG)
    page = folder / REPORT_MD
    page.write_text(markdown(report), encoding="utf-8")
    return page
