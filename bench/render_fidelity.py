"""``egate bench render-fidelity``: how much identity the simulated traveller keeps.

For each genuine pair of a dataset, the simulator's own traveller is made (the chip photo:
the left image aligned as a passport photo and stored as JPEG, as the simulated chip
holds it; the live face: the right image animated by the synthetic camera under the chosen
conditions) and the approach is passed through the gate's own capture pipeline (the
pack's engine, the lane's capture settings, the MJPEG stream's JPEG). Per pair:

- ``best_shot_distance``: the gate's best shot against the original live image (what the
  renderer and the capture lost of that image);
- ``chip_distance``: the portrait on the chip against the original chip image;
- ``gate_distance``: the gate's score, the median distance of the best shots to the chip
  photo, exactly as the lane computes it;
- ``shift``: ``gate_distance`` minus the matcher's distance on the original pair;
- ``margin_kept``: (threshold - gate distance) / (threshold - matcher distance), the share
  of the matcher's margin that survives into the lane (1: nothing lost; below 0: a pair
  the matcher accepts is rejected). Only for pairs the matcher accepts;
- FTA: the capture found no face of good quality;
- the time to render one frame, against the lock-step lane's budget: the time the gate's
  own capture pipeline takes per frame on the same machine (the simulator's camera waits
  for the gate to read each frame, so a renderer no slower than the gate never holds the
  lane up; the runner renders a traveller's frames before the traveller steps in).

These are simulator losses plus capture losses, without the lane's devices and timing: the
part of a system test's FRR that comes from the pictures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bench.datasets import Dataset
from drivers.camera.conditions import Conditions
from gate.errors import DeviceTimeoutError, GateError
from gate.interfaces import Frame
from gate.types import ImageBGR

MJPEG_QUALITY = 90  # the simulator's MJPEG server (drivers.camera.mjpeg_server)
CHIP_QUALITY = 90  # the simulated passport's JPEG (gate.simulate.runner)


@dataclass(frozen=True)
class PairFidelity:
    pair: int  # the dataset's pair index
    status: str  # the capture's status: ok, fta, multiple_faces ...
    matcher_distance: float | None  # the pack on the original images
    chip_distance: float | None  # the chip portrait against the original chip image
    best_shot_distance: float | None  # the gate's best shot against the original live image
    gate_distance: float | None  # the gate's score against the chip photo
    liveness: float
    frames_seen: int
    render_ms_per_frame: float
    capture_ms_per_frame: float = 0.0  # the gate's capture pipeline on the same machine

    def shift(self) -> float | None:
        if self.gate_distance is None or self.matcher_distance is None:
            return None
        return self.gate_distance - self.matcher_distance

    def margin_kept(self, threshold: float) -> float | None:
        """Share of the matcher's margin kept; None where the matcher already rejects."""
        if self.gate_distance is None or self.matcher_distance is None:
            return None
        margin = threshold - self.matcher_distance
        if margin <= 0:
            return None
        return (threshold - self.gate_distance) / margin

    def as_dict(self, threshold: float) -> dict[str, Any]:
        out = asdict(self)
        out["shift"] = self.shift()
        out["margin_kept"] = self.margin_kept(threshold)
        return out


class ReplayCamera:
    """A scene's frames in the order the simulator's feed plays them, re-encoded as the
    MJPEG stream does, one per ``read``; time is the frame count (lock-step)."""

    def __init__(self, frames: Sequence[ImageBGR], fps: float = 30.0) -> None:
        from gate.simulate.lane import SceneFeed

        self._frames = frames
        self._order: Iterator[int] = SceneFeed.playback_order(len(frames))
        self._fps = fps
        self._count = 0
        self.description = "replay"

    def read(self, timeout: float) -> Frame:
        import cv2

        index = next(self._order, None)
        if index is None:
            raise DeviceTimeoutError("no more frames")
        ok, data = cv2.imencode(
            ".jpg", self._frames[index], [cv2.IMWRITE_JPEG_QUALITY, MJPEG_QUALITY]
        )
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else self._frames[index]
        self._count += 1
        return Frame(np.asarray(image, np.uint8), self._count / self._fps, self._count)

    def close(self) -> None:
        pass


def _jpeg(image: ImageBGR, quality: int) -> ImageBGR:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), np.uint8) if ok else image


def _embedding(engine: Any, image: ImageBGR, min_face: int = 40) -> np.ndarray | None:
    try:
        face = engine.embed_one(image, policy="largest", min_face=min_face)
    except GateError:
        return None
    return None if face.embedding is None else np.asarray(face.embedding, np.float32)


def _distance(engine: Any, a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    return float(engine.distance(a, b))


def pair_fidelity(
    engine: Any,
    photos: Any,
    pair: int,
    chip_path: str,
    live_path: str,
    *,
    conditions: Conditions | None,
    seed: int,
    frames: int = 30,
    capture_s: float = 8.0,
    min_face: int = 60,
    window_s: float = 3.0,
) -> PairFidelity:
    """One genuine pair through the simulator's renderer and the gate's capture."""
    from gate.capture.pipeline import CapturePipeline, CaptureSettings
    from gate.clock import SimulatedClock
    from gate.simulate.faces import read_image
    from gate.simulate.live_scene import traveller_scene

    chip_original = _embedding(engine, read_image(_as_path(chip_path)))
    live_original = _embedding(engine, read_image(_as_path(live_path)))
    chip = _embedding(engine, _jpeg(photos.chip_photo(chip_path), CHIP_QUALITY))
    photos.live(live_path)  # the face's detection is not the renderer's time
    started = time.perf_counter()
    scene = traveller_scene(
        photos, live_path, "genuine", seed=seed, frames=frames, conditions=conditions
    )
    images = list(scene.images())
    render_ms = 1000.0 * (time.perf_counter() - started) / max(1, len(images))
    pipeline = CapturePipeline(engine, CaptureSettings(min_face=min_face, window_s=window_s))
    started = time.perf_counter()
    result = pipeline.capture(ReplayCamera(images), SimulatedClock(), capture_s)
    capture_ms = 1000.0 * (time.perf_counter() - started) / max(1, result.frames_seen)
    gate_distance = best_distance = None
    if result.status == "ok" and result.best_faces and chip is not None:
        probes = np.stack([np.asarray(f.embedding, np.float32) for f in result.best_faces])
        gate_distance = float(np.median(engine.distances(probes, chip[None, :])))
        best_distance = _distance(engine, probes[0], live_original)
    return PairFidelity(
        pair=pair,
        status=str(result.status),
        matcher_distance=_distance(engine, chip_original, live_original),
        chip_distance=_distance(engine, chip, chip_original),
        best_shot_distance=best_distance,
        gate_distance=gate_distance,
        liveness=float(result.liveness_score),
        frames_seen=result.frames_seen,
        render_ms_per_frame=render_ms,
        capture_ms_per_frame=capture_ms,
    )


def _as_path(name: str) -> Any:
    from pathlib import Path

    return Path(name)


def genuine_pairs(dataset: Dataset, limit: int | None, seed: int) -> list[int]:
    """``limit`` genuine pair indices drawn with ``seed`` (all when None)."""
    genuine = np.flatnonzero(dataset.same)
    rng = np.random.default_rng(seed)
    order = rng.permutation(genuine)
    return [int(i) for i in (order if limit is None else order[:limit])]


def _quantile(values: list[float], q: float) -> float | None:
    return float(np.quantile(values, q)) if values else None


def summarise(pairs: Sequence[PairFidelity], threshold: float) -> dict[str, Any]:
    """The figures over pairs: FTA, medians, margin kept (median, 10th percentile)."""
    n = len(pairs)
    fta = sum(p.status != "ok" for p in pairs)
    kept = [k for p in pairs if (k := p.margin_kept(threshold)) is not None]
    shifts = [s for p in pairs if (s := p.shift()) is not None]
    best = [p.best_shot_distance for p in pairs if p.best_shot_distance is not None]
    chip = [p.chip_distance for p in pairs if p.chip_distance is not None]
    rejected = sum(
        1
        for p in pairs
        if p.gate_distance is not None
        and p.matcher_distance is not None
        and p.matcher_distance <= threshold < p.gate_distance
    )
    return {
        "pairs": n,
        "threshold": threshold,
        "fta": {"count": fta, "of": n, "rate": fta / n if n else None},
        "lost_to_rendering": rejected,
        "margin_kept": {
            "median": _quantile(kept, 0.5),
            "p10": _quantile(kept, 0.1),
            "pairs": len(kept),
        },
        "shift": {"median": _quantile(shifts, 0.5), "p90": _quantile(shifts, 0.9)},
        "best_shot_distance": {"median": _quantile(best, 0.5), "p90": _quantile(best, 0.9)},
        "chip_distance": {"median": _quantile(chip, 0.5), "p90": _quantile(chip, 0.9)},
        "render_ms_per_frame": {
            "median": _quantile([p.render_ms_per_frame for p in pairs], 0.5),
            "max": max((p.render_ms_per_frame for p in pairs), default=None),
        },
        # The lock-step lane's budget for a frame: the gate's own time on it (the camera
        # never runs ahead of the engine), measured on the same machine under the same load.
        "capture_ms_per_frame": {
            "median": _quantile([p.capture_ms_per_frame for p in pairs], 0.5),
        },
        "within_budget": _within_budget(pairs),
    }


def _within_budget(pairs: Sequence[PairFidelity]) -> bool | None:
    """Rendering a frame takes no longer than the gate takes to process one (medians)."""
    render = _quantile([p.render_ms_per_frame for p in pairs], 0.5)
    capture = _quantile([p.capture_ms_per_frame for p in pairs if p.frames_seen], 0.5)
    if render is None or capture is None:
        return None
    return render <= capture


def summary_line(summary: dict[str, Any]) -> str:
    def num(value: float | None, fmt: str = ".2f") -> str:
        return "n/a" if value is None else format(value, fmt)

    fta = summary["fta"]
    kept = summary["margin_kept"]
    budget = {True: "within the lock-step budget", False: "OVER the lock-step budget"}.get(
        summary["within_budget"], "budget n/a"
    )
    return (
        f"render fidelity: {summary['pairs']} genuine pairs, FTA {fta['count']}/{fta['of']}; "
        f"margin kept median {num(kept['median'])}, p10 {num(kept['p10'])}; "
        f"score shift median {num(summary['shift']['median'], '+.3f')}; "
        f"best shot to original median {num(summary['best_shot_distance']['median'], '.3f')}; "
        f"chip portrait to original median {num(summary['chip_distance']['median'], '.3f')}; "
        f"lost to rendering {summary['lost_to_rendering']}; "
        f"{num(summary['render_ms_per_frame']['median'], '.1f')} ms per rendered frame "
        f"(the gate's capture: {num(summary['capture_ms_per_frame']['median'], '.1f')} ms per "
        f"frame; {budget})"
    )
