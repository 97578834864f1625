"""``egate bench pad --videos FOLDER``: the liveness check on recorded clips of real people.

The folder holds bona fide clips (``bonafide/*.mp4|gif``; clips at the top of the folder
count as bona fide too) and, optionally, attack clips per instrument
(``attacks/<instrument>/*.mp4``). Attack clips are also made in code from every bona fide
clip (``bench.pad_attacks``: a still, a zoomed still, a flat picture turned +-15/20/30 deg
at two distances, a screen replay with moiré).

Each clip is replayed frame by frame in lock-step with its timestamps: the face engine
looks at every frame (as the capture stage does at the camera's rate), and every window of
``window_s`` seconds (one every ``step_s``; by default the lane's best-shot window, 3 s) is
scored by the gate's liveness check, each frame with its timestamp (frame number / fps). A window
is a presentation (ISO/IEC 30107-3): ``live`` (accepted), ``attack`` (referred on a cue
that saw an attack) or ``inconclusive`` (no cue saw an attack, none showed life: the lane
would need a challenge; a recorded clip cannot answer one, so these are counted apart).
BPCER counts bona fide windows refused as attacks; APCER, attack windows accepted as live.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench import metrics
from bench.pad_attacks import INSTRUMENTS
from gate.capture.liveness import LivenessChecker, LivenessResult
from gate.capture.pipeline import CaptureEngine
from gate.errors import InputError
from gate.types import Face, ImageBGR

VIDEO_SUFFIXES = (".mp4", ".gif", ".avi", ".mov", ".mkv", ".webm")
BONA_FIDE = "bona_fide"


def read_clip(path: Path) -> tuple[list[ImageBGR], float]:
    """All frames of a clip and its frame rate (30 where the file does not say)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"pad videos: cannot read {path}")
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    frames: list[ImageBGR] = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(np.asarray(image, np.uint8))
    cap.release()
    if not frames:
        raise InputError(f"pad videos: no frames in {path}")
    return frames, fps if 0 < fps < 1000 else 30.0


def _clips(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def find_clips(folder: Path) -> dict[str, list[Path]]:
    """Clips per presentation kind: ``bona_fide`` and one entry per attack instrument."""
    if not folder.is_dir():
        raise InputError(f"pad videos: {folder} is not a folder")
    found = {BONA_FIDE: _clips(folder)}
    if (folder / "bonafide").is_dir():
        found[BONA_FIDE] += _clips(folder / "bonafide")
    attacks = folder / "attacks"
    if attacks.is_dir():
        for instrument in sorted(p for p in attacks.iterdir() if p.is_dir()):
            found[f"file:{instrument.name}"] = _clips(instrument)
    if not found[BONA_FIDE]:
        raise InputError(f"pad videos: no bona fide clips (mp4, gif) in {folder}")
    return found


def window_results(
    engine: CaptureEngine,
    frames: Sequence[ImageBGR],
    fps: float,
    *,
    window_s: float = 3.0,
    step_s: float = 0.5,
    min_face: int = 40,
) -> list[LivenessResult]:
    """Every window of ``window_s`` (one every ``step_s``) scored by the liveness check."""
    faces: list[Face | None] = []
    for image in frames:
        found = engine.analyze(image, min_face=min_face)
        faces.append(found[0] if found else None)
    size = max(2, round(window_s * fps))
    step = max(1, round(step_s * fps))
    starts = range(0, max(1, len(frames) - size + 1), step)
    results = []
    for start in starts:
        checker = LivenessChecker(engine.landmark_layout)
        for index in range(start, min(len(frames), start + size)):
            face = faces[index]
            if face is not None:
                checker.add(frames[index], face, index / fps)
        results.append(checker.result())
    return results


def _count(results: Iterable[LivenessResult], threshold: float) -> dict[str, Any]:
    listed = list(results)
    n = len(listed)
    live = sum(r.score >= threshold for r in listed)
    inconclusive = sum(r.score < threshold and r.verdict == "inconclusive" for r in listed)
    attack = n - live - inconclusive
    return {"windows": n, "live": live, "attack": attack, "inconclusive": inconclusive}


def _cue_counts(results: Sequence[LivenessResult]) -> dict[str, int]:
    """In how many windows each cue spoke: the surface's verdicts, a pulse, a blink."""
    return {
        "surface_solid": sum(r.surface_verdict == "solid" for r in results),
        "surface_flat": sum(r.surface_verdict == "flat" for r in results),
        "pulse": sum(r.pulse_verdict == "pulse" for r in results),
        "pulse_measured": sum(r.pulse_verdict != "unavailable" for r in results),
        "blink": sum(r.blink_verdict == "blink" for r in results),
        "blink_measured": sum(r.blink_verdict != "unavailable" for r in results),
    }


def evaluate_videos(
    engine: CaptureEngine,
    folder: Path,
    *,
    threshold: float = 0.5,
    window_s: float = 3.0,
    step_s: float = 0.5,
    instruments: Sequence[str] = tuple(INSTRUMENTS),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The report of ``egate bench pad --videos``."""
    clips = find_clips(folder)
    per_kind: dict[str, list[LivenessResult]] = {}

    def score(kind: str, frames: Sequence[ImageBGR], fps: float, name: str) -> None:
        if progress is not None:
            progress(f"{kind}: {name}")
        per_kind.setdefault(kind, []).extend(
            window_results(engine, frames, fps, window_s=window_s, step_s=step_s)
        )

    for kind, paths in clips.items():
        for path in paths:
            frames, fps = read_clip(path)
            score(kind, frames, fps, path.name)
            if kind != BONA_FIDE:
                continue
            for seed, instrument in enumerate(instruments):
                score(instrument, INSTRUMENTS[instrument](frames, fps, seed), fps, path.name)
    bona_results = per_kind.pop(BONA_FIDE, [])
    bona = _count(bona_results, threshold)
    out: dict[str, Any] = {
        "threshold": threshold,
        "window_s": window_s,
        "step_s": step_s,
        "rule": "live when liveness score >= threshold; inconclusive windows would need a "
        "challenge and are counted apart",
        "bona_fide": {
            **bona,
            "cues": _cue_counts(bona_results),
            "clips": [p.name for p in clips[BONA_FIDE]],
            "bpcer": bona["attack"] / bona["windows"] if bona["windows"] else None,
            "bpcer_ci95": metrics.wilson_interval(bona["attack"], bona["windows"]).as_dict(),
            "challenge_share": bona["inconclusive"] / bona["windows"] if bona["windows"] else None,
        },
        "attacks": {},
        "made_in_code": "see bench.pad_attacks: " + ", ".join(instruments),
    }
    for kind, results in per_kind.items():
        counts = _count(results, threshold)
        n = counts["windows"]
        out["attacks"][kind] = {
            **counts,
            "apcer": counts["live"] / n if n else None,
            "apcer_ci95": metrics.wilson_interval(counts["live"], n).as_dict(),
            "cues_min": {
                "texture": min((r.texture for r in results), default=1.0),
                "border": min((r.border for r in results), default=1.0),
                "flat_windows": sum(r.planarity_verdict == "flat" for r in results),
            },
            "cues": _cue_counts(results),
        }
    return out


def summary_lines(report: dict[str, Any]) -> list[str]:
    bona = report["bona_fide"]
    ci = bona["bpcer_ci95"]
    lines = [
        f"windows of {report['window_s']:g} s, one every {report['step_s']:g} s",
        f"bona fide: {bona['windows']} windows, {bona['attack']} refused (BPCER "
        f"{bona['bpcer']:.3f}, 95 % CI {ci['low']:.3f}-{ci['high']:.3f}), "
        f"{bona['inconclusive']} would need a challenge ({100 * bona['challenge_share']:.0f} %)",
    ]
    for kind, entry in report["attacks"].items():
        aci = entry["apcer_ci95"]
        lines.append(
            f"{kind}: {entry['windows']} windows, {entry['live']} accepted (APCER "
            f"{entry['apcer']:.3f}, 95 % CI {aci['low']:.3f}-{aci['high']:.3f}); referred: "
            f"{entry['attack']} on a cue, {entry['inconclusive']} inconclusive"
        )
    return lines


def run_videos(
    folder: Path,
    pack: str | None = None,
    threshold: float | None = None,
    progress: bool = True,
    window_s: float = 3.0,
) -> dict[str, Any]:
    from gate.decision import DecisionPolicy
    from models.engine import load_engine

    engine = load_engine(pack)
    limit = DecisionPolicy().liveness_threshold if threshold is None else threshold

    def tell(text: str) -> None:
        print(f"pad videos: {text}", file=sys.stderr, flush=True)

    report = evaluate_videos(
        engine, folder, threshold=limit, window_s=window_s, progress=tell if progress else None
    )
    report["pack"] = engine.pack_id
    return report
