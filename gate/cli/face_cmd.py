"""``egate verify``, ``egate embed`` and ``egate demo-verify``: 1:1 face checks from files.

Policy for ``verify``: each picture must show exactly ONE face (of at least --min-face
pixels). A picture with two faces is refused ("2 faces found"), not guessed: a 1:1 check
that silently picks one of several faces could compare the wrong person. ``embed`` takes
the largest face by default (``--policy single`` to refuse several).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.cli import args as argtypes
from gate.cli.base import EXIT_ERROR, EXIT_FAILURE, EXIT_OK, Registry, print_error
from gate.cli.options import add_json_flag, add_pack_option, add_threads_option
from gate.errors import FaceError, GateError, ModelError, MultipleFacesError

if TYPE_CHECKING:
    from gate.types import Face, FloatArray, ImageBGR
    from models.engine import FaceEngine


def _engine_options(p: argparse.ArgumentParser) -> None:
    add_pack_option(p)
    p.add_argument(
        "--min-face", type=argtypes.min_face, default=40, help="smallest face side in px (40)"
    )
    add_threads_option(p)
    add_json_flag(p)


def register(registry: Registry) -> None:
    p = registry.command(
        "verify", "1:1 verification of two face pictures (exactly one face each)", _verify
    )
    p.add_argument("left", help="first picture")
    p.add_argument("right", help="second picture")
    p.add_argument("--fmr", default="1e-3", help="target false-match rate (1e-2, 1e-3, 1e-4)")
    _engine_options(p)

    p = registry.command("embed", "face box, 5 landmarks and embedding of each picture", _embed)
    p.add_argument("images", nargs="+", help="pictures")
    p.add_argument(
        "--policy",
        choices=("largest", "single"),
        default="largest",
        help="several faces: take the largest (default) or refuse",
    )
    _engine_options(p)

    p = registry.command(
        "demo-verify", "verify pairs made from the insightface sample photos", _demo
    )
    add_pack_option(p)
    add_threads_option(p)


# ---------------------------------------------------------------------------- helpers


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _face_json(face: Face) -> dict[str, Any]:
    box = face.detection.box
    return {
        "box": [round(v, 2) for v in (box.left, box.top, box.right, box.bottom)],
        "score": round(float(face.detection.score), 4),
        "landmarks": [[round(x, 2), round(y, 2)] for x, y in face.landmarks.points],
    }


def _read_and_embed(
    engine: FaceEngine, path: str, policy: str, min_face: int, timings: dict[str, float]
) -> tuple[ImageBGR, Face]:
    from gate.images import load_image

    start = time.perf_counter()
    image = load_image(path)
    timings["read"] = timings.get("read", 0.0) + _ms(start)
    try:
        face = engine.embed_one(
            image,
            policy="single" if policy == "single" else "largest",
            min_face=min_face,
            timings=timings,
        )
    except MultipleFacesError as exc:
        hint = " (verify needs exactly one face per picture)" if policy == "single" else ""
        raise MultipleFacesError(f"{path}: {exc}{hint}", exc.count) from exc
    except GateError as exc:
        raise FaceError(f"{path}: {exc}") from exc
    return image, face


def _vector(face: Face) -> FloatArray:
    if face.embedding is None:  # embed_one always fills it; keep the types honest
        raise ModelError("the engine returned a face without an embedding")
    return face.embedding


def _timings_text(timings: dict[str, float]) -> str:
    order = ("load", "read", "detect", "landmarks", "align", "embed")
    parts = [f"{k} {timings[k]:.1f}" for k in order if k in timings]
    total = sum(v for k, v in timings.items() if k != "load")
    return "ms: " + ", ".join(parts) + f" (total without load {total:.1f})"


# ---------------------------------------------------------------------------- verify


def _verify(args: argparse.Namespace) -> int:
    from models.engine import load_engine

    timings: dict[str, float] = {}
    report: dict[str, Any] = {"left": args.left, "right": args.right, "fmr": args.fmr}
    try:
        start = time.perf_counter()
        engine = load_engine(args.pack, threads=args.threads)
        timings["load"] = _ms(start)
        report.update(pack=engine.pack_id, distance_name=engine.distance_name)
        threshold = engine.threshold(args.fmr)
        _, left = _read_and_embed(engine, args.left, "single", args.min_face, timings)
        _, right = _read_and_embed(engine, args.right, "single", args.min_face, timings)
    except GateError as exc:
        if not args.json:
            raise
        print_error(str(exc))  # the JSON on stdout is for programs; people read stderr
        report.update(
            decision="undecided",
            reason=str(exc),
            timings_ms={k: round(v, 2) for k, v in timings.items()},
        )
        print(json.dumps(report, indent=2))
        return EXIT_ERROR
    distance = engine.distance(_vector(left), _vector(right))
    match = engine.is_match(distance, args.fmr)
    components = engine.component_distances(_vector(left), _vector(right))
    spec = engine.manifest.fusion
    if spec is not None and components:  # a fusion pack: each model's distance, the fused score
        report["components"] = {
            c.name: {
                "distance": round(components[c.name], 6),
                "distance_name": c.distance,
                "z": round((components[c.name] - c.impostor_mean) / c.impostor_sd, 4),
                "weight": c.weight,
            }
            for c in spec.components
        }
        report["fused_score"] = round(distance, 6)
    report.update(
        distance=round(distance, 6),
        threshold=threshold,
        decision="match" if match else "no-match",
        faces={"left": _face_json(left), "right": _face_json(right)},
        timings_ms={k: round(v, 2) for k, v in timings.items()},
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{'MATCH' if match else 'NO MATCH'}: distance {distance:.4f} ({engine.distance_name}),"
            f" threshold {threshold:.4f} at FMR {args.fmr}, pack {engine.pack_id}"
        )
        if components:
            print("components: " + ", ".join(f"{k} {v:.4f}" for k, v in components.items()))
        print(_timings_text(timings))
    return EXIT_OK if match else EXIT_FAILURE


# ---------------------------------------------------------------------------- embed


def _embed(args: argparse.Namespace) -> int:
    from models.engine import load_engine

    engine = load_engine(args.pack, threads=args.threads)  # no engine: exit 2 via main
    results: list[dict[str, Any]] = []
    failed = 0
    for path in args.images:
        timings: dict[str, float] = {}
        try:
            _, face = _read_and_embed(engine, path, args.policy, args.min_face, timings)
        except GateError as exc:
            failed += 1
            results.append({"image": path, "error": str(exc)})
            print_error(str(exc), prefix="egate: ")  # with --json too: stdout stays JSON
            continue
        entry = {
            "image": path,
            **_face_json(face),
            "embedding": [round(float(v), 7) for v in _vector(face)],
            "timings_ms": {k: round(v, 2) for k, v in timings.items()},
        }
        results.append(entry)
        if not args.json:
            print(f"{path}: box {entry['box']} score {entry['score']}")
            print(f"  landmarks {entry['landmarks']}")
            print("  embedding " + " ".join(f"{v:.6f}" for v in entry["embedding"]))
    if args.json:
        print(json.dumps({"pack": engine.pack_id, "results": results}, indent=2))
    return EXIT_FAILURE if failed else EXIT_OK


# ---------------------------------------------------------------------------- demo


def _demo(args: argparse.Namespace) -> int:
    import cv2
    import insightface
    import numpy as np

    from gate.images import decode_image, load_image
    from models.engine import load_engine

    folder = Path(insightface.__file__).parent / "data" / "images"
    engine = load_engine(args.pack, threads=args.threads)
    # The sample is a tight 112x112 crop: give the detector a portrait with some context.
    sample = load_image(folder / "Tom_Hanks_54745.png")
    bigger = cv2.resize(sample, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    hanks = np.asarray(cv2.copyMakeBorder(bigger, 60, 60, 60, 60, cv2.BORDER_REPLICATE), np.uint8)
    group = load_image(folder / "t1.jpg")
    smaller = cv2.resize(hanks, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    variants: dict[str, ImageBGR] = {
        "Tom Hanks mirrored": np.ascontiguousarray(hanks[:, ::-1]),
        "Tom Hanks 70% size, brighter": np.asarray(
            cv2.convertScaleAbs(smaller, alpha=1.15, beta=25), dtype=np.uint8
        ),
        "Tom Hanks JPEG q=40": decode_image(
            cv2.imencode(".jpg", hanks, [cv2.IMWRITE_JPEG_QUALITY, 40])[1].tobytes(), "JPEG q=40"
        ),
    }
    reference = _vector(engine.embed_one(hanks, min_face=20))
    rows: list[tuple[str, str, bool, float]] = []
    for name, picture in variants.items():
        other = _vector(engine.embed_one(picture, min_face=20))
        rows.append(("Tom Hanks", name, True, engine.distance(reference, other)))
    faces = sorted(engine.analyze(group, min_face=20), key=lambda f: f.detection.box.left)
    embeddings = engine.embed(group, faces)  # faces numbered left to right
    for a, b in itertools.combinations(range(len(faces)), 2):
        distance = engine.distance(embeddings[a], embeddings[b])
        rows.append((f"t1 face {a + 1}", f"t1 face {b + 1}", False, distance))
    if faces:
        rows.append(("Tom Hanks", "t1 face 1", False, engine.distance(reference, embeddings[0])))
    threshold = engine.threshold()
    print(
        f"pack {engine.pack_id}: {engine.distance_name} distance, threshold {threshold:.4f} "
        f"at FMR 1e-3; {len(faces)} faces found in t1.jpg"
    )
    print(f"{'left':<16} {'right':<30} {'same?':<6} {'distance':>9}  decision   ok")
    wrong = 0
    for left, right, same, distance in rows:
        match = engine.is_match(distance)
        wrong += match != same
        print(
            f"{left:<16} {right:<30} {'yes' if same else 'no':<6} {distance:>9.4f}  "
            f"{'MATCH' if match else 'no match':<10} {'ok' if match == same else 'WRONG'}"
        )
    return EXIT_FAILURE if wrong else EXIT_OK
