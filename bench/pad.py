"""``egate bench pad``: the liveness check against synthetic presentation attacks.

ISO/IEC 30107-3 terms: APCER (per attack type) = share of attack presentations accepted as
live; BPCER = share of bona fide presentations refused as attacks. A presentation is one
seeded approach sequence (``drivers.camera.synthetic``) scored by the gate's own liveness
check (``scene_liveness``: ``gate.capture.liveness`` over every frame); live when
``score >= threshold``.

The scenes are synthetic: the figures say how well the check separates THESE renderings of
print and screen attacks, nothing about real attacks (docs/liveness.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import metrics, optional
from drivers.camera.synthetic import ATTACK_KINDS, TravellerScene, render_sequence
from gate.capture.liveness import LivenessChecker, LivenessSettings
from gate.capture.pipeline import CaptureEngine
from gate.types import ImageBGR

DEFAULT_PHOTOS = (
    "sample:t1.jpg#0",
    "sample:t1.jpg#2",
    "sample:t1.jpg#4",
    "sample:Tom_Hanks_54745.png",
)
BONA_FIDE = "genuine"


@dataclass(frozen=True)
class PadReport:
    threshold: float
    scores: dict[str, tuple[float, ...]]  # per scene kind, one score per seeded scene
    apcer: dict[str, float]  # per attack kind
    bpcer: float

    def summary(self) -> str:
        parts = [f"BPCER {self.bpcer:.2f} (n={len(self.scores.get(BONA_FIDE, ()))})"]
        for kind, value in self.apcer.items():
            parts.append(f"APCER[{kind}] {value:.2f} (n={len(self.scores[kind])})")
        return ", ".join(parts)


def scene_liveness(
    engine: CaptureEngine,
    scene: TravellerScene,
    *,
    min_face: int = 40,
    settings: LivenessSettings | None = None,
) -> float:
    """Run the engine on every frame of a scene and return the liveness score."""
    checker = LivenessChecker(engine.landmark_layout, settings)
    for frame in render_sequence(scene):
        faces = engine.analyze(frame.image, min_face=min_face)
        if faces:
            checker.add(frame.image, faces[0])
    return checker.score()


def evaluate_pad(
    engine: CaptureEngine,
    photo: ImageBGR,
    *,
    photo_landmarks: Sequence[tuple[float, float]] | None = None,
    seeds: Iterable[int] = range(5),
    frames: int = 16,
    threshold: float = 0.5,
    kinds: Sequence[str] = (BONA_FIDE, *ATTACK_KINDS),
) -> PadReport:
    """Score bona fide scenes and each attack kind on the same seeds of one photo; a score
    below ``threshold`` is an attack decision."""
    seed_list = list(seeds)
    points = tuple((x, y) for x, y in photo_landmarks) if photo_landmarks is not None else None
    scores: dict[str, tuple[float, ...]] = {}
    for kind in kinds:
        scores[kind] = tuple(
            scene_liveness(
                engine,
                TravellerScene(
                    photo,
                    kind=kind,
                    seed=seed,
                    frames=frames,
                    photo_landmarks=points,
                ),
            )
            for seed in seed_list
        )
    apcer = {
        kind: sum(s >= threshold for s in scores[kind]) / max(1, len(scores[kind]))
        for kind in kinds
        if kind in ATTACK_KINDS
    }
    bona_fide = scores.get(BONA_FIDE, ())
    bpcer = sum(s < threshold for s in bona_fide) / max(1, len(bona_fide))
    return PadReport(threshold=threshold, scores=scores, apcer=apcer, bpcer=bpcer)


def pad_summary(scores: Mapping[str, Sequence[float]], threshold: float) -> dict[str, Any]:
    """APCER per attack kind and BPCER with counts and 95 % Wilson intervals, plus each
    attack's equal error rate (where APCER = BPCER) and the threshold there."""
    bona_fide = np.asarray(scores.get(BONA_FIDE, ()), dtype=np.float64)
    refused = int(np.count_nonzero(bona_fide < threshold))
    out: dict[str, Any] = {
        "threshold": threshold,
        "rule": "live when liveness score >= threshold",
        "bona_fide": {
            "presentations": int(bona_fide.size),
            "refused": refused,
            "bpcer": refused / bona_fide.size if bona_fide.size else None,
            "bpcer_ci95": metrics.wilson_interval(refused, int(bona_fide.size)).as_dict(),
        },
        "attacks": {},
    }
    for kind, values in scores.items():
        if kind == BONA_FIDE:
            continue
        attack = np.asarray(values, dtype=np.float64)
        accepted = int(np.count_nonzero(attack >= threshold))
        entry: dict[str, Any] = {
            "presentations": int(attack.size),
            "accepted": accepted,
            "apcer": accepted / attack.size if attack.size else None,
            "apcer_ci95": metrics.wilson_interval(accepted, int(attack.size)).as_dict(),
        }
        if attack.size and bona_fide.size:
            # As distances (1 - score): bona fide = genuine, attack = impostor, so
            # FMR = APCER and FNMR = BPCER at the mirrored threshold.
            eer = metrics.equal_error_rate(1.0 - bona_fide, 1.0 - attack)
            entry["eer"] = eer.eer
            entry["eer_threshold"] = 1.0 - eer.threshold if math.isfinite(eer.threshold) else None
        out["attacks"][kind] = entry
    return out


def run_pad(
    pack: str | None = None,
    photos: Sequence[str] = DEFAULT_PHOTOS,
    seeds: int = 3,
    frames: int = 16,
    threshold: float | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Score bona fide and attack scenes of every photo x seed; return summary and scores."""
    from gate.decision import DecisionPolicy
    from gate.simulate.faces import PhotoLibrary
    from gate.simulate.live_scene import traveller_scene
    from models.engine import load_engine

    engine = load_engine(pack)
    # The portraits are cut by dlib's 5 points, where the synthetic scenes expect them.
    world = engine if engine.manifest.kind == "dlib-cc0" else load_engine("dlib-cc0")
    library = PhotoLibrary(lambda image: world.analyze(image, min_face=40))
    kinds = (BONA_FIDE, *ATTACK_KINDS)
    scores: dict[str, list[float]] = {kind: [] for kind in kinds}
    jobs = [(kind, p, s) for kind in kinds for p in range(len(photos)) for s in range(seeds)]
    for kind, photo_index, seed in optional.progress(
        jobs, desc="pad scenes", unit="scene", enabled=progress
    ):
        # The simulator's own scenes: a bona fide traveller is the photo's whole head, an
        # attack holds up the passport-style portrait (gate.simulate.live_scene).
        scene = traveller_scene(
            library,
            photos[photo_index],
            kind,
            seed=1000 * photo_index + seed,
            frames=frames,
            conditions=None,
        )
        scores[kind].append(float(scene_liveness(engine, scene)))
    limit = DecisionPolicy().liveness_threshold if threshold is None else threshold
    summary = pad_summary(scores, limit)
    summary.update(
        pack=engine.pack_id,
        photos=list(photos),
        seeds_per_photo=seeds,
        frames_per_scene=frames,
        note="synthetic scenes: the figures describe these renderings, not real attacks",
    )
    return summary, scores


def plot_scores(scores: dict[str, list[float]], threshold: float, path: Any) -> None:
    """Liveness score histograms per presentation kind, the threshold marked."""
    plt = optional.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=110)
    edges = np.linspace(0.0, 1.0, 41)
    for kind, values in scores.items():
        if values:
            name = "bona fide" if kind == BONA_FIDE else f"{kind} attack"
            ax.hist(values, bins=edges, alpha=0.45, label=f"{name} ({len(values)})")
    ax.axvline(threshold, color="black", linestyle=":", linewidth=1.0)
    ax.text(threshold, ax.get_ylim()[1], " threshold", va="top", fontsize=8)
    ax.set_xlabel("liveness score (higher = more likely live)")
    ax.set_ylabel("scenes")
    ax.set_title("Liveness scores: bona fide vs synthetic attacks")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def markdown(report: dict[str, Any]) -> str:
    bona = report["bona_fide"]
    ci = bona["bpcer_ci95"]
    lines = [
        "# Presentation attack detection (liveness)",
        "",
        f"Pack `{report['pack']}`; {len(report['photos'])} photos x "
        f"{report['seeds_per_photo']} seeds, {report['frames_per_scene']} frames per scene; "
        f"{report['rule']}, threshold {report['threshold']:g}.",
        "",
        "| presentations | n | error | rate [95 % CI] | EER vs bona fide |",
        "|---|---|---|---|---|",
        f"| bona fide (BPCER) | {bona['presentations']} | {bona['refused']} refused | "
        f"{_pct(bona['bpcer'])} [{_pct(ci['low'])}, {_pct(ci['high'])}] | |",
    ]
    for kind, entry in report["attacks"].items():
        aci = entry["apcer_ci95"]
        lines.append(
            f"| {kind} attack (APCER) | {entry['presentations']} | {entry['accepted']} accepted | "
            f"{_pct(entry['apcer'])} [{_pct(aci['low'])}, {_pct(aci['high'])}] | "
            f"{_pct(entry.get('eer'))} |"
        )
    lines += ["", f"Note: {report['note']}.", "", "![Liveness scores](pad_scores.png)", ""]
    return "\n".join(lines)
