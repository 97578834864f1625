"""Calibrate the page-portrait threshold (issue 22): how far a data page's printed portrait,
seen by the page reader, lies from the chip's photo (DG2), for genuine and for substituted
pages.

For each of ``--identities`` people of a face folder (LFW layout: one folder per person;
default ``/work/shared/datasets/lfw-dev/images``, the first picture of each, seeded choice)
the chip photo is their picture; their page is rendered (``gate.page.render_page``, TD3) with
that same picture and seen under a drawn degradation (``gate.page.random_degradation``:
skew, perspective, blur, glare, low light, noise, JPEG), or the kiosk reader's milder view
with ``--view reader``. A genuine comparison is a page with its own chip; a substituted one
is a page with every other person's chip (a genuine chip under another's portrait). The
page's face is looked for as the lane does (``gate.lane.page_check``: the page straightened,
upright or upside down, the largest face; the ghost image is smaller), and the distance is
the best view's (the lane's ``page_distance``).

Prints the distances' spread, the threshold at ``--far`` (the largest distance whose FAR
does not exceed it, as the packs' thresholds are set) and its FRR, pages without a face
counted as rejected::

    python -m bench.page_portrait --identities 80 --seed 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np

from gate.icao.mrz import Mrz

DEFAULT_FACES = Path("/work/shared/datasets/lfw-dev/images")


def _people(folder: Path, count: int, seed: int) -> list[Path]:
    people = sorted(p for p in folder.iterdir() if p.is_dir())
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(people), size=min(count, len(people)), replace=False)
    return [sorted(people[i].glob("*.jpg"))[0] for i in sorted(chosen)]


def _mrz(index: int) -> Mrz:
    from gate.icao.mrz import format_td3

    return format_td3(
        surname=f"HOLDER{chr(65 + index % 26)}",
        given_names="PAGE",
        document_number=f"P{index:08d}",
        issuing_state="UTO",
        nationality="UTO",
        birth_date="850101",
        sex="F",
        expiry_date="301231",
    )


def calibrate(faces: Path, identities: int, seed: int, view: str, far: float) -> dict[str, object]:
    import cv2

    from gate.errors import FaceError
    from gate.lane import upright_views
    from gate.page import degrade, random_degradation, render_page
    from gate.simulate.travellers import reader_view
    from models.engine import load_engine

    engine = load_engine(None)
    chips: list[np.ndarray] = []
    pages: list[np.ndarray | None] = []  # per page: its views' templates
    rng = np.random.default_rng(seed)
    for index, path in enumerate(_people(faces, identities, seed)):
        read = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if read is None:
            continue
        photo = np.asarray(read, np.uint8)
        chip = engine.embed_one(photo, policy="largest", min_face=40)
        if chip.embedding is None:
            continue
        page = render_page(_mrz(index), photo, background_seed=seed * 1000 + index)
        spec = reader_view(rng) if view == "reader" else random_degradation(rng)
        seen = degrade(page.image, rng, spec)
        views: list[np.ndarray] = []  # a template per view holding a face
        for upright in upright_views(seen):  # as the lane looks (gate.lane.page_distance)
            with contextlib.suppress(FaceError):
                face = engine.embed_one(upright, policy="largest", min_face=40)
                if face.embedding is not None:
                    views.append(np.asarray(face.embedding, np.float32))
        pages.append(np.stack(views) if views else None)  # None: no face, a rejected page
        chips.append(np.asarray(chip.embedding, np.float32))
    reference = np.stack(chips)
    genuine: list[float] = []
    impostor: list[float] = []
    no_face = 0
    for i, templates in enumerate(pages):
        if templates is None:
            no_face += 1
            continue
        # the lane's distance: the best view's (page_distance with no early stop)
        distances = np.min([engine.distances(t[None, :], reference) for t in templates], axis=0)
        genuine.append(float(distances[i]))
        impostor.extend(float(d) for j, d in enumerate(distances) if j != i)
    gen, imp = np.sort(np.array(genuine)), np.sort(np.array(impostor))
    allowed = int(np.floor(far * len(imp)))  # impostor scores at or below the threshold
    # the largest distance whose FAR does not exceed ``far``: just below the next impostor
    threshold = float(imp[allowed] - 1e-4) if allowed < len(imp) else float(imp[-1])
    accepted_impostors = int(np.sum(imp <= threshold))
    rejected = int(np.sum(gen > threshold)) + no_face
    return {
        "pack": engine.pack_id,
        "view": view,
        "identities": len(chips),
        "genuine_pages": len(pages),
        "pages_without_face": no_face,
        "impostor_comparisons": len(imp),
        "genuine_distance": {
            "min": float(gen.min()),
            "median": float(np.median(gen)),
            "max": float(gen.max()),
        },
        "impostor_distance": {"min": float(imp.min()), "median": float(np.median(imp))},
        "target_far": far,
        "threshold": round(threshold, 4),
        "far": accepted_impostors / len(imp),
        "frr": rejected / len(pages),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    parser.add_argument("--identities", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--view", choices=("mixed", "reader"), default="mixed")
    parser.add_argument("--far", type=float, default=1e-3)
    args = parser.parse_args(argv)
    if not args.faces.is_dir():
        print(f"--faces {args.faces}: not a folder", file=sys.stderr)
        return 2
    print(json.dumps(calibrate(args.faces, args.identities, args.seed, args.view, args.far),
                     indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
