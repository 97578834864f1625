"""The MRZ reader's benchmark (``egate bench mrz``): rendered pages or a folder of real images.

On rendered pages every character of the read is compared with the truth; the report gives
the share of pages read exactly, the pages where ``valid`` was true but the text wrong (must be
none), and the time per page. On a folder (real specimens) there is no truth: it reports how
many images give a valid MRZ and lists the others with what went wrong.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.mrz_pages import bench_pages
from bench.optional import progress
from gate.errors import GateError
from gate.images import load_image
from gate.page import MrzReading, read_mrz

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2")


def _timed(image: np.ndarray) -> tuple[MrzReading | None, str, float]:
    start = time.perf_counter()
    try:
        reading: MrzReading | None = read_mrz(image)
        error = ""
    except GateError as exc:
        reading, error = None, str(exc)
    return reading, error, time.perf_counter() - start


def _times(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000.0
    if not len(ms):
        return {}
    return {
        "median_ms": round(float(np.median(ms)), 1),
        "p90_ms": round(float(np.percentile(ms, 90)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


def run_rendered(count: int, seed: int, *, show_progress: bool = False) -> dict[str, Any]:
    """Read ``count`` seeded rendered pages; the report (JSON-ready)."""
    pages = progress(bench_pages(count, seed), desc="mrz", unit="page", enabled=show_progress)
    seconds: list[float] = []
    exact = valid = false_valid = 0
    misses: list[dict[str, Any]] = []
    by_format: dict[str, list[int]] = {}
    for page in pages:
        reading, error, elapsed = _timed(page.image)
        seconds.append(elapsed)
        truth = page.mrz.lines
        right = reading is not None and reading.lines == truth
        exact += right
        valid += reading is not None and reading.valid
        tally = by_format.setdefault(page.mrz.kind, [0, 0])
        tally[0] += 1
        tally[1] += right
        if reading is not None and reading.valid and not right:
            false_valid += 1
        if not right:
            misses.append(
                {
                    "page": page.number,
                    "format": page.mrz.kind,
                    "truth": list(truth),
                    "read": list(reading.lines) if reading else None,
                    "valid": bool(reading and reading.valid),
                    "error": error,
                    "degradation": {k: _round(v) for k, v in asdict(page.degradation).items()},
                }
            )
    return {
        "pages": count,
        "seed": seed,
        "exact": exact,
        "exact_rate": round(exact / count, 4) if count else 0.0,
        "valid": valid,
        "valid_but_wrong": false_valid,
        "by_format": {k: {"pages": v[0], "exact": v[1]} for k, v in sorted(by_format.items())},
        "time": _times(seconds),
        "misses": misses,
    }


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def image_files(folder: Path) -> list[Path]:
    """The picture files in ``folder`` and below, by suffix, sorted."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    )


def run_folder(files: Iterable[Path], *, show_progress: bool = False) -> dict[str, Any]:
    """Read every picture in ``files`` (real documents: no truth); valid ones and the misses."""
    paths = list(files)
    results: list[dict[str, Any]] = []
    seconds: list[float] = []
    for path in progress(paths, desc="mrz", unit="image", enabled=show_progress):
        try:
            image = load_image(path)
        except GateError as exc:
            results.append({"file": str(path), "valid": False, "error": str(exc)})
            continue
        reading, error, elapsed = _timed(image)
        seconds.append(elapsed)
        entry: dict[str, Any] = {"file": str(path), "valid": bool(reading and reading.valid)}
        if reading is not None:
            entry.update(format=reading.kind, lines=list(reading.lines))
            entry["lowest_confidence"] = round(min(min(line) for line in reading.confidence), 3)
        else:
            entry["error"] = error
        results.append(entry)
    valid = sum(1 for entry in results if entry["valid"])
    return {
        "images": len(results),
        "valid": valid,
        "time": _times(seconds),
        "misses": [entry for entry in results if not entry["valid"]],
        "results": results,
    }


def summary_line(report: dict[str, Any]) -> str:
    timing = report.get("time", {})
    median = timing.get("median_ms", float("nan"))
    if "pages" in report:
        return (
            f"{report['exact']}/{report['pages']} pages read exactly "
            f"({100 * report['exact_rate']:.2f} %), {report['valid_but_wrong']} valid but wrong, "
            f"median {median} ms/page"
        )
    return f"{report['valid']}/{report['images']} images give a valid MRZ, median {median} ms"
