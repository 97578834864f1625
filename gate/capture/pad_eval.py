"""Measure the liveness check on seeded synthetic scenes: APCER per attack type, BPCER.

ISO/IEC 30107-3 terms: APCER = share of attack presentations (of one attack type) accepted
as live; BPCER = share of bona fide (genuine) presentations rejected as attacks. Here the
presentations are synthetic scenes (``drivers.camera.synthetic``), so the numbers say how
well the check separates THOSE attacks, nothing about real ones (docs/liveness.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.camera.synthetic import ATTACK_KINDS, TravellerScene, render_sequence
from gate.capture.liveness import LivenessChecker, LivenessSettings
from gate.capture.pipeline import CaptureEngine
from gate.types import ImageBGR


@dataclass(frozen=True)
class PadReport:
    threshold: float
    scores: dict[str, tuple[float, ...]]  # per scene kind, one score per seeded scene
    apcer: dict[str, float]  # per attack kind
    bpcer: float

    def summary(self) -> str:
        parts = [f"BPCER {self.bpcer:.2f} (n={len(self.scores.get('genuine', ()))})"]
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
    kind = str(getattr(engine.manifest, "kind", "dlib-cc0"))
    checker = LivenessChecker(kind, settings)
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
    kinds: Sequence[str] = ("genuine", *ATTACK_KINDS),
) -> PadReport:
    """Score ``genuine`` and each attack kind on the same seeds; a score below ``threshold``
    is an attack decision."""
    seed_list = list(seeds)
    points = tuple(tuple(p) for p in photo_landmarks) if photo_landmarks is not None else None
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
                    photo_landmarks=points,  # type: ignore[arg-type]
                ),
            )
            for seed in seed_list
        )
    apcer = {
        kind: sum(s >= threshold for s in scores[kind]) / max(1, len(scores[kind]))
        for kind in kinds
        if kind in ATTACK_KINDS
    }
    genuine = scores.get("genuine", ())
    bpcer = sum(s < threshold for s in genuine) / max(1, len(genuine))
    return PadReport(threshold=threshold, scores=scores, apcer=apcer, bpcer=bpcer)
