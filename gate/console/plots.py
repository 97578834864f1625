"""The metrics view: throughput per hour, the outcome mix and stage latencies, drawn on the
server as plain SVG (no script, nothing from a CDN)."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from html import escape
from typing import Any

History = list[tuple[str, float, str, dict[str, float]]]
STAGES = ("document", "capture", "verify", "passage", "total")
PLOTS = ("throughput", "outcomes", "latency")


def metrics(history: History) -> dict[str, Any]:
    now = time.time()
    hours = [0] * 24
    for _, at, _, _ in history:
        age = int((now - at) // 3600)
        if 0 <= age < 24:
            hours[23 - age] += 1
    outcomes = Counter(decision for _, _, decision, _ in history)
    latency: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        values = sorted(s[stage] for _, _, _, s in history if stage in s)
        if values:
            latency[stage] = {
                "median_ms": statistics.median(values),
                "p95_ms": values[min(len(values) - 1, int(0.95 * len(values)))],
                "count": float(len(values)),
            }
    return {"per_hour": hours, "outcomes": dict(outcomes), "latency": latency}


def plot(name: str, history: History) -> str | None:
    if name not in PLOTS:
        return None
    data = metrics(history)
    if name == "throughput":
        labels = [("now" if i == 23 else f"-{23 - i}h") if i % 3 == 2 else "" for i in range(24)]
        return bars("Travellers per hour (last 24 h)", labels, data["per_hour"], "")
    if name == "outcomes":
        mix = sorted(data["outcomes"].items(), key=lambda kv: -kv[1])
        return bars("Outcome mix", [k for k, _ in mix], [v for _, v in mix], "")
    stages = list(data["latency"])
    return bars(
        "Stage latency, median (ms)",
        stages,
        [data["latency"][s]["median_ms"] for s in stages],
        " ms",
    )


def bars(title: str, labels: list[str], values: list[float], unit: str) -> str:
    width, height, left, bottom, top = 420, 220, 30, 70, 34
    plot_w, plot_h = width - left - 10, height - top - bottom
    top_value = max(values, default=0) or 1
    step = min(plot_w / max(1, len(values)), 70.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#555"/>',
    ]
    if not values:
        parts.append(f'<text x="{left + 10}" y="{top + plot_h / 2}">no data yet</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / top_value
        x = left + i * step + step * 0.15
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            'fill="#2f6db5"/>'
        )
        if value:
            shown = f"{value:.0f}{unit}"
            parts.append(f'<text x="{x:.1f}" y="{y - 3:.1f}">{escape(shown)}</text>')
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 14}" transform="rotate(35 {x:.1f} '
            f'{top + plot_h + 14})">{escape(label[:18])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
