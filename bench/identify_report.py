"""``egate bench identify``: load, embed, search, and write the report (JSON, Markdown, a
DET-style plot of FNIR against FPIR), with ``bench accuracy``'s conventions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench import optional
from bench.acquire import EmbedOptions
from bench.identify import TARGET_FPIRS, embed, identify
from bench.report import REPORT_JSON, REPORT_MD, write_json

DET_PNG = "det.png"


def run_identify(
    source: Path,
    *,
    root: Path | None = None,
    pack: str | None = None,
    seed: int = 0,
    non_mated_share: float = 0.3,
    index: str = "exact",
    threads: int = 0,
    progress: bool = True,
    cache: Path | None = None,
    report_dir: Path | None = None,
) -> dict[str, Any]:
    from bench.accuracy import open_engine
    from bench.dataset_formats import load_dataset
    from bench.environment import describe_environment

    dataset = load_dataset(source, root=root, seed=seed)
    engine = open_engine(pack, threads=threads)
    emb = embed(engine, dataset, cache, progress, EmbedOptions())
    summary = identify(
        engine, dataset, emb, seed=seed, non_mated_share=non_mated_share, index=index
    )
    report: dict[str, Any] = {
        key: summary[key]
        for key in ("pack", "gallery", "mated_searches", "non_mated_searches", "rank1")
    }
    report.update(
        fnir_at_fpir=summary["fnir_at_fpir"],
        search_ms=summary["search_ms"],
        dataset=dataset.describe(),
        seed=seed,
        protocol=(
            "ISO/IEC 19795-1 open-set identification: one gallery image per enrolled identity "
            "(identities with 2+ usable images, less the left-out share), mated searches = "
            "their other images, non-mated searches = every image of left-out identities; "
            "FNIR counts a mated search whose mate is not the nearest entry at or under the "
            "threshold; the threshold at an FPIR is the largest whose FPIR does not exceed "
            "it, supported with >= 3/FPIR non-mated searches"
        ),
        packs=[summary],
        environment=describe_environment([engine]),
    )
    report["summary_line"] = summary_line(summary)
    if report_dir is not None:
        write_identify_report(report, report_dir)
    return report


def summary_line(s: dict[str, Any]) -> str:
    points = " ".join(
        f"FNIR@FPIR{key}={p['fnir']:.4f}({p['false_negatives']}/{p['mated_searches']}; "
        f"{p['non_mated_searches']} non-mated{'' if p['supported'] else ', few'})"
        for key, p in s["operating_points"].items()
    )
    ms = s["search_ms"]
    return (
        f"{s['pack']}: gallery={s['gallery']} rank1={s['rank1']:.4f} {points} "
        f"search_ms p50={ms['p50']:.3f} p95={ms['p95']:.3f} p99={ms['p99']:.3f}"
    )


def plot_det(summary: dict[str, Any], path: Path) -> None:
    plt = optional.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    fpir = np.asarray(summary["det"]["fpir"], dtype=np.float64)
    fnir = np.asarray(summary["det"]["fnir"], dtype=np.float64)
    x_floor = 0.5 / max(1, summary["non_mated_searches"])
    y_floor = 0.5 / max(1, summary["mated_searches"])
    ax.step(np.maximum(fpir, x_floor), np.maximum(fnir, y_floor), where="post",
            label=f"{summary['pack']} (gallery {summary['gallery']})")  # fmt: skip
    for point in summary["operating_points"].values():
        ax.plot(max(point["fpir"], x_floor), max(point["fnir"], y_floor), "o", color="black")
    for target in TARGET_FPIRS:
        ax.axvline(target, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FPIR (non-mated searches with an entry at or under the threshold)")
    ax.set_ylabel("FNIR (mated searches without the mate at rank 1)")
    ax.set_title("Identification DET")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(report: dict[str, Any]) -> str:
    s = report["packs"][0]
    lines = [
        f"# Identification: {s['pack']}",
        "",
        f"Dataset: `{report['dataset']['source']}`; gallery {s['gallery']} identities, "
        f"{s['mated_searches']} mated and {s['non_mated_searches']} non-mated searches "
        f"(seed {report['seed']}, index {s['index']}).",
        "",
        "| target FPIR | threshold | FPIR | FNIR (95 % CI) | false neg. / mated | "
        "false pos. / non-mated | supported |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, p in s["operating_points"].items():
        ci = p["fnir_ci95"]
        lines.append(
            f"| {key} | {p['threshold']:.4f} | {p['fpir']:.4f} | {p['fnir']:.4f} "
            f"({ci['low']:.4f}-{ci['high']:.4f}) | {p['false_negatives']} / "
            f"{p['mated_searches']} | {p['false_positives']} / {p['non_mated_searches']} | "
            f"{'yes' if p['supported'] else 'no (fewer than 3/FPIR non-mated searches)'} |"
        )
    cmc = ", ".join(f"{v:.4f}" for v in s["cmc"][:10])
    ms = s["search_ms"]
    lines += [
        "",
        f"Rank-1: {s['rank1']:.4f}. CMC (ranks 1-10): {cmc}.",
        "",
        f"Search latency (one probe, {ms['searches']} searches): p50 {ms['p50']:.3f} ms, "
        f"p95 {ms['p95']:.3f} ms, p99 {ms['p99']:.3f} ms.",
        "",
        report["protocol"] + ".",
        "",
        f"![DET]({DET_PNG})",
        "",
    ]
    return "\n".join(lines)


def write_identify_report(report: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(report, folder / REPORT_JSON)
    plot_det(report["packs"][0], folder / DET_PNG)
    page = folder / REPORT_MD
    page.write_text(markdown(report), encoding="utf-8")
    return page
