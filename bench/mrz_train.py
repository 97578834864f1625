"""Train the MRZ reader's character model (``gate/page/mrz_glyphs.onnx``) on rendered pages.

The cells come from the reader's own locator and cutter run on seeded, degraded rendered
pages (seeds far from the benchmark's), labelled by the page's true MRZ, plus copies cut a
little off centre. A small two-layer perceptron is fitted with numpy (Adam, cross-entropy)
and written as an ONNX graph (Gemm, Relu, Gemm, Softmax). Run it with
``python -m bench.mrz_train --pages 3000``; the file's sha256 goes into gate.page.classify.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from bench.mrz_pages import bench_pages
from gate.page.classify import CellClassifier, OnnxClassifier, TemplateClassifier
from gate.page.glyphs import BLANK, CLASSES, INDEX
from gate.page.layout import CHARS
from gate.page.locate import find_mrz
from gate.page.segment import CELL_H, CELL_W, Line, cells, cut_cells, fit_centres, ink_of

TRAIN_SEED = 7_000_000
MODEL = Path(__file__).resolve().parent.parent / "gate" / "page" / "mrz_glyphs.onnx"
Arrays = tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.int64]]


def _page_cells(args: tuple[int, int]) -> Arrays:
    """Cells and labels from pages ``start`` .. ``start + count`` of the training seed."""
    start, count = args
    # the committed model (else the font's templates) picks the upright cut and drops pages
    # whose cut is misplaced (their labels would be wrong)
    template: CellClassifier = OnnxClassifier() if MODEL.is_file() else TemplateClassifier()
    rng = np.random.default_rng(start)
    xs: list[npt.NDArray[np.floating[Any]]] = []
    ys: list[npt.NDArray[np.int64]] = []
    for page in bench_pages(count, TRAIN_SEED + start, vary_print=True):
        grey = np.asarray(cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY), np.uint8)
        truth = "".join(page.mrz.lines)
        labels = np.array([INDEX[c] for c in truth], np.int64)
        chars = CHARS[page.mrz.kind]  # type: ignore[index]
        best: tuple[int, list[Line]] | None = None
        for candidate in find_mrz(grey)[:1]:
            for flipped in (False, True):
                lines = [ink_of(s) for s in candidate.strips(grey, flipped)]
                if len(lines) != len(page.mrz.lines) or any(x is None for x in lines):
                    continue
                stack = np.concatenate([cells(x, chars) for x in lines if x is not None])
                read = template.probabilities(stack).argmax(axis=1)
                errors = int((read != labels).sum())
                if best is None or errors < best[0]:
                    best = (errors, [x for x in lines if x is not None])
        if best is None or best[0] > 0.1 * len(truth):
            continue
        for line in best[1]:  # blank cells: the margins before and after each line
            centres = fit_centres(line, chars)
            pitch = float(np.median(np.diff(centres)))
            outside = np.concatenate(
                [centres[0] - pitch * np.arange(3, 0, -1), centres[-1] + pitch * np.arange(1, 7)]
            )
            blank = cut_cells(line, outside)
            xs.append(blank.reshape(len(blank), -1).astype(np.float16))
            ys.append(np.full(len(blank), INDEX[BLANK], np.int64))
        for round_ in range(2):
            shifts = None if round_ == 0 else rng.normal(0, 0.07, (chars, 2))
            stack = np.concatenate([cells(x, chars, shifts) for x in best[1]])
            xs.append(stack.reshape(len(stack), -1).astype(np.float16))
            ys.append(labels)
    if not xs:
        return np.zeros((0, CELL_H * CELL_W), np.float32), np.zeros(0, np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def collect(pages: int, workers: int) -> Arrays:
    chunk = 50
    jobs = [(start, min(chunk, pages - start)) for start in range(0, pages, chunk)]
    with Pool(workers) as pool:
        parts = pool.map(_page_cells, jobs)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def train(
    x: npt.NDArray[np.floating[Any]], y: npt.NDArray[np.int64], hidden: int, epochs: int, seed: int
) -> list[npt.NDArray[np.float32]]:
    rng = np.random.default_rng(seed)
    n, d = x.shape
    k = len(CLASSES)
    w1 = (rng.normal(0, np.sqrt(2 / d), (d, hidden))).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.normal(0, np.sqrt(1 / hidden), (hidden, k))).astype(np.float32)
    b2 = np.zeros(k, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step, batch, lr = 0, 256, 2e-3
    for epoch in range(epochs):
        order = rng.permutation(n)
        rate = lr * (0.5 * (1 + np.cos(np.pi * epoch / epochs)))
        loss_sum = 0.0
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            xb, yb = x[idx].astype(np.float32), y[idx]
            h = np.maximum(xb @ w1 + b1, 0)
            z = h @ w2 + b2
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            loss_sum += float(-np.log(p[np.arange(len(yb)), yb] + 1e-9).sum())
            g = p
            g[np.arange(len(yb)), yb] -= 1
            g /= len(yb)
            gw2, gb2 = h.T @ g, g.sum(axis=0)
            gh = (g @ w2.T) * (h > 0)
            gw1, gb1 = xb.T @ gh, gh.sum(axis=0)
            step += 1
            for j, grad in enumerate((gw1, gb1, gw2, gb2)):
                m[j] = 0.9 * m[j] + 0.1 * grad
                v[j] = 0.999 * v[j] + 0.001 * grad * grad
                mh, vh = m[j] / (1 - 0.9**step), v[j] / (1 - 0.999**step)
                params[j] -= (rate * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        print(f"epoch {epoch + 1}/{epochs}: loss {loss_sum / n:.4f}", flush=True)
    return params


def predict(
    params: list[npt.NDArray[np.float32]], x: npt.NDArray[np.float32]
) -> npt.NDArray[np.int64]:
    w1, b1, w2, b2 = params
    return np.asarray((np.maximum(x @ w1 + b1, 0) @ w2 + b2).argmax(axis=1), np.int64)


def export(params: list[npt.NDArray[np.float32]], path: Path) -> str:
    w1, b1, w2, b2 = params
    d = w1.shape[0]
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["cells", "w1", "b1"], ["h"]),
            helper.make_node("Relu", ["h"], ["a"]),
            helper.make_node("Gemm", ["a", "w2", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "mrz_glyphs",
        [helper.make_tensor_value_info("cells", TensorProto.FLOAT, ["n", d])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", len(CLASSES)])],
        [
            numpy_helper.from_array(w1.astype(np.float16).astype(np.float32), "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2.astype(np.float16).astype(np.float32), "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.doc_string = "egate MRZ OCR-B character model (bench/mrz_train.py); classes " + CLASSES
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--hidden", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/mrz_cells.npz"))
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.cache.is_file():
        data = np.load(args.cache)
        x, y = data["x"], data["y"]
    else:
        x, y = collect(args.pages, args.workers)
        np.savez_compressed(args.cache, x=x, y=y)
    print(f"{len(x)} cells in {time.perf_counter() - start:.0f} s", flush=True)
    rng = np.random.default_rng(0)
    held = rng.random(len(x)) < 0.05
    params = train(x[~held], y[~held], args.hidden, args.epochs, seed=0)
    errors = int((predict(params, x[held].astype(np.float32)) != y[held]).sum())
    print(f"held-out cells: {errors} wrong of {int(held.sum())}")
    print("sha256", export(params, args.out))


if __name__ == "__main__":
    main()
