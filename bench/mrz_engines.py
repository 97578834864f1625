"""The engines measured for the MRZ reader's recogniser, on the same seeded rendered pages and
the same located, cut lines (``gate.page.locate``), so only the recogniser differs:

- ``model``: the reader's own OCR-B cell model (``gate.page.classify.OnnxClassifier``);
- ``template``: correlation with the font's clean glyphs (``TemplateClassifier``);
- ``tesseract``: Debian's tesseract-ocr (``eng``, LSTM, one text line, MRZ alphabet only),
  run as a program on each cut line.

``python -m bench.mrz_engines --pages 60`` prints, per engine, the lines read exactly, the
characters wrong and the recogniser's own time per page (locating excluded).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from bench.mrz_pages import bench_pages
from gate.page.classify import CellClassifier, OnnxClassifier, TemplateClassifier
from gate.page.glyphs import ALPHABET
from gate.page.layout import CHARS
from gate.page.locate import find_mrz
from gate.page.segment import cells, ink_of

WHITELIST = ALPHABET


@dataclass
class _Tally:
    lines: int = 0
    exact: int = 0
    chars_wrong: int = 0
    seconds: list[float] = field(default_factory=list)


def _tesseract(strip: np.ndarray) -> str:
    _, png = cv2.imencode(".png", strip)
    done = subprocess.run(
        [
            "tesseract",
            "stdin",
            "stdout",
            "--psm",
            "7",
            "-l",
            "eng",
            "-c",
            f"tessedit_char_whitelist={WHITELIST}",
        ],
        input=png.tobytes(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    return done.stdout.decode("ascii", "replace").strip().replace(" ", "")


def _cells_engine(classifier: CellClassifier, strips: list[np.ndarray], chars: int) -> list[str]:
    out = []
    for strip in strips:
        line = ink_of(strip)
        if line is None:
            out.append("")
            continue
        picks = classifier.probabilities(cells(line, chars)).argmax(axis=1)
        out.append("".join(ALPHABET[i] for i in picks))
    return out


def measure(pages: int, seed: int) -> dict[str, Any]:
    engines: dict[str, Any] = {"model": OnnxClassifier(), "template": TemplateClassifier()}
    if shutil.which("tesseract"):
        engines["tesseract"] = None
    tally = {name: _Tally() for name in engines}
    for page in bench_pages(pages, seed):
        grey = np.asarray(cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY), np.uint8)
        found = find_mrz(grey)
        chars = CHARS[page.mrz.kind]  # type: ignore[index]
        truth = page.mrz.lines
        # the upright cut (the one the template reads closer to the truth): locating and
        # turning are not what is compared here
        best: list[np.ndarray] | None = None
        best_err = 10**9
        for candidate in found[:1]:
            for flipped in (False, True):
                strips = candidate.strips(grey, flipped)
                read = _cells_engine(engines["template"], strips, chars)
                err = sum(
                    sum(a != b for a, b in zip(r, t, strict=False))
                    for r, t in zip(read, truth, strict=False)
                )
                if len(strips) == len(truth) and err < best_err:
                    best, best_err = strips, err
        for name, engine in engines.items():
            entry = tally[name]
            entry.lines += len(truth)
            if best is None:
                entry.chars_wrong += sum(len(t) for t in truth)
                continue
            start = time.perf_counter()
            if engine is None:
                read = [_tesseract(strip) for strip in best]
            else:
                read = _cells_engine(engine, best, chars)
            entry.seconds.append(time.perf_counter() - start)
            for r, t in zip(read, truth, strict=True):
                entry.exact += r == t
                padded = r.ljust(len(t))[: len(t)]
                entry.chars_wrong += sum(a != b for a, b in zip(padded, t, strict=True)) + abs(
                    len(r) - len(t)
                )
    report: dict[str, Any] = {"pages": pages, "seed": seed, "engines": {}}
    for name, entry in tally.items():
        median = round(1000 * float(np.median(entry.seconds)), 1) if entry.seconds else None
        report["engines"][name] = {
            "lines": entry.lines,
            "exact_lines": entry.exact,
            "chars_wrong": entry.chars_wrong,
            "median_ms_per_page": median,
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    print(json.dumps(measure(args.pages, args.seed), indent=2))


if __name__ == "__main__":
    main()
