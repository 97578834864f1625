"""Micro-benchmarks of the lane (``gate.lane``).

Run: ``.venv/bin/pytest bench/micro/test_gate_micro.py --benchmark-enable --benchmark-only``

* ``decision_latency``: from the capture's result (the best frame is chosen) to the exit
  command acknowledged by the turnstile (the gatectl driver over a pty to its emulator):
  comparison, decision, the command round trip. p50/p95 go into ``extra_info``.
* ``software_per_traveller``: one whole transaction with physical delays at zero: the ICAO
  reader over a virtual chip (BAC, secure messaging, DG1/DG2/SOD, passive and active
  authentication), the decision, the doors over the pty, the audit row committed with
  ``synchronous=FULL``. Face capture is the in-memory fake here (its cost is benchmarked by
  the capture pipeline's own benchmarks); the all-fakes lane is measured in the same run as
  the baseline and the ratio recorded.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

from bench.micro.reference import runs
from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from drivers.turnstile.emulator import Physics, start_emulator
from gate.clock import SystemClock
from gate.config import AuditConfig, GateConfig, ReaderConfig, TimeoutsConfig, TurnstileConfig
from gate.fakes import (
    FakeBiometrics,
    FakeCamera,
    FakeDocumentSource,
    FakeLane,
    fake_embedding,
    fake_photo,
)
from gate.icao.pa import TrustStore
from gate.lane import GateEvent, Lane, PassportChipReader, build_lane
from gate.outcome import Decision, Transaction
from gate.simulate.issue import issue_passport
from gate.simulate.pki import init_pki
from gate.transaction import CaptureOutcome, PresentedDocument

ROUNDS = 30
# Physical delays near zero: door travel 16 ms, a beam broken for 8 ms (the emulator
# needs a beam to stay broken for at least one of its ticks to see the walker at all).
PHYSICS_SCALE = 0.02


class _InstantCamera(FakeCamera):
    def read(self, timeout: float) -> Any:
        self.frames_served += 1
        return None


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 3), "p95_ms": round(p95, 3)}


@pytest.fixture(scope="module")
def real_lane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("gate-bench")
    pki = init_pki(tmp / "pki")
    ok, jpeg = cv2.imencode(".jpg", fake_photo(3, size=200))
    assert ok
    issued = issue_passport(
        tmp / "passport",
        pki=pki,
        photo=bytes(jpeg),
        surname="BENCH",
        given_names="MARK",
        nationality="UTO",
        birth_date="850101",
        sex="M",
        expiry_date="351231",
        document_number="B00000001",
    )
    emulator = start_emulator("gatectl", physics=Physics(time_scale=PHYSICS_SCALE))
    clock = SystemClock()
    documents = FakeDocumentSource(clock)
    biometrics = FakeBiometrics(capture_s=0.0, frames=1)
    config = GateConfig(
        reader=ReaderConfig(trust_store=tmp / "pki"),
        turnstile=TurnstileConfig(address=emulator.address),
        # Generous: on a loaded machine the emulator thread may be starved for a while.
        timeouts=TimeoutsConfig(exit_open_s=10.0, passage_s=10.0),
        audit=AuditConfig(path=tmp / "audit.db"),
    )
    # The real turnstile driver, ICAO reader and audit log, opened from the config.
    controller = build_lane(
        config,
        clock=clock,
        documents=documents,
        biometrics=biometrics,
        camera=_InstantCamera(clock),
        observers=(lambda e: _walk(e, emulator),),
        tailgate_grace_s=0.2,
    )
    try:
        yield {
            "controller": controller,
            "documents": documents,
            "biometrics": biometrics,
            "folder": tmp / "passport",
            "mrz": "\n".join(issued.mrz.lines),
        }
    finally:
        controller.close()
        emulator.close()


def _walk(event: GateEvent, emulator: Any) -> None:
    if event.kind == "door" and event.detail == "exit_open_commanded":
        emulator.traveller_passes()


def _one_real(lane: dict[str, Any]) -> Transaction:
    card = load_passport_folder(lane["folder"])
    lane["biometrics"].script.append(CaptureOutcome("ok", (fake_embedding(3),), liveness=0.9))
    lane["documents"].present(PresentedDocument(lane["mrz"], InProcessTransport(card), "bench"))
    tx: Transaction | None = lane["controller"].serve_one(0.1)
    if tx is None or tx.decision is not Decision.ACCEPT:
        raise AssertionError(f"bench traveller not accepted: {tx}")
    return tx


def _one_fake(lane: FakeLane, controller: Lane) -> Transaction:
    lane.traveller("genuine")
    tx = controller.serve_one(0.1)
    if tx is None or tx.decision is not Decision.ACCEPT:
        raise AssertionError(f"fake traveller not accepted: {tx}")
    return tx


def test_decision_latency(benchmark: Any, real_lane: dict[str, Any]) -> None:
    results: list[Transaction] = []
    benchmark.pedantic(lambda: results.append(_one_real(real_lane)), rounds=ROUNDS, iterations=1)
    latency = [t.stage_ms["decision_to_command"] for t in results]
    benchmark.extra_info.update(
        {f"decision_to_command_{k}": v for k, v in _percentiles(latency).items()}
    )
    benchmark.extra_info["exit_command_p50_ms"] = _percentiles(
        [t.stage_ms["exit_command"] for t in results]
    )["p50_ms"]
    assert all(v >= 0 for v in latency)


def test_software_per_traveller(benchmark: Any, real_lane: dict[str, Any], tmp_path: Path) -> None:
    # Baseline in the same run: the same controller over in-memory fakes only.
    fake = FakeLane()
    fake.biometrics.capture_s = 0.0
    fake.chip.read_s = 0.0
    fake.turnstile.door_s = fake.turnstile.walk_s = 0.0
    controller = fake.build()

    baseline: list[float] = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        _one_fake(fake, controller)
        baseline.append((time.perf_counter() - started) * 1000.0)

    results: list[Transaction] = []
    benchmark.pedantic(lambda: results.append(_one_real(real_lane)), rounds=ROUNDS, iterations=1)
    totals = [t.stage_ms["total"] for t in results]
    stats = _percentiles(totals)
    benchmark.extra_info.update({f"total_{k}": v for k, v in stats.items()})
    for stage in ("document", "verify", "exit_open", "passage"):
        benchmark.extra_info[f"{stage}_p50_ms"] = _percentiles(
            [t.stage_ms[stage] for t in results]
        )["p50_ms"]
    base = _percentiles(baseline)
    benchmark.extra_info["fakes_only_p50_ms"] = base["p50_ms"]
    benchmark.extra_info["ratio_vs_fakes_only"] = round(
        stats["p50_ms"] / max(base["p50_ms"], 1e-6), 1
    )


@pytest.fixture(scope="module")
def engine_lane(real_lane: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real lane with the real face engine and capture pipeline instead of the fakes."""
    from gate.capture.pipeline import CapturePipeline, CaptureSettings
    from gate.errors import ModelError
    from models.engine import load_engine

    try:
        engine = load_engine(None)
    except ModelError as exc:
        pytest.skip(f"face model pack not prepared ({exc})")
    from drivers.camera.synthetic import TravellerScene
    from gate.lane import EngineBiometrics
    from gate.simulate.faces import PhotoLibrary
    from gate.simulate.lane import SceneFeed

    portrait = PhotoLibrary(lambda im: engine.analyze(im, min_face=40)).portrait("sample:t1.jpg#0")
    scene = list(TravellerScene(photo=portrait, kind="genuine", seed=1, frames=30).images())
    # As the simulator's camera shows it: the approach, then the traveller keeps moving.
    order = itertools.islice(SceneFeed.playback_order(len(scene)), 150)
    frames = [scene[i] for i in order]
    tmp = tmp_path_factory.mktemp("engine-lane")
    ok, jpeg = cv2.imencode(".jpg", portrait)
    assert ok
    issued = issue_passport(
        tmp / "passport",
        pki=init_pki(tmp / "pki"),
        photo=bytes(jpeg),
        surname="ENGINE",
        given_names="BENCH",
        nationality="UTO",
        birth_date="850101",
        sex="F",
        expiry_date="351231",
        document_number="E00000001",
    )
    controller: Lane = real_lane["controller"]
    # Frames are handed over as fast as the pipeline takes them (no camera pacing), so the
    # capture time is the software cost of the frames the 3-s best-shot window needs.
    settings = CaptureSettings(min_face=60, window_s=3.0)
    controller.use_biometrics(EngineBiometrics(engine, CapturePipeline(engine, settings)))
    controller.chip_reader = PassportChipReader(TrustStore.from_folder(tmp / "pki"))
    return {
        **real_lane,
        "frames": frames,
        "folder": tmp / "passport",
        "mrz": "\n".join(issued.mrz.lines),
    }


def test_software_per_traveller_real_engine(benchmark: Any, engine_lane: dict[str, Any]) -> None:
    from drivers.camera.threaded import camera_from_frames

    controller: Lane = engine_lane["controller"]
    results: list[Transaction] = []

    def one() -> None:
        controller.camera = camera_from_frames(engine_lane["frames"], live=False)
        card = load_passport_folder(engine_lane["folder"])
        transport = InProcessTransport(card)
        engine_lane["documents"].present(PresentedDocument(engine_lane["mrz"], transport, "e"))
        tx = controller.serve_one(0.1)
        controller.camera.close()
        if tx is None or tx.decision is not Decision.ACCEPT:
            raise AssertionError(f"engine traveller not accepted: {tx}")
        results.append(tx)

    benchmark.pedantic(one, rounds=5, iterations=1)
    stats = _percentiles([t.stage_ms["total"] for t in results])
    benchmark.extra_info.update({f"total_{k}": v for k, v in stats.items()})
    per_frame = [t.stage_ms["capture"] / max(1, t.frames_seen) for t in results]
    benchmark.extra_info["capture_per_frame_p50_ms"] = _percentiles(per_frame)["p50_ms"]
    benchmark.extra_info["frames_per_capture"] = results[-1].frames_seen
    for stage in ("document", "enrol", "capture", "verify", "decision_to_command", "passage"):
        per_stage = _percentiles([t.stage_ms[stage] for t in results])
        benchmark.extra_info[f"{stage}_p50_ms"] = per_stage["p50_ms"]


def test_document_to_decision_fusion_beside_dlib(
    benchmark: Any, engine_lane: dict[str, Any], pytestconfig: pytest.Config
) -> None:
    """A genuine traveller's time from the document on the reader to the exit command, with
    the default pack (fusion: tracking, adaptive window) and with dlib-cc0, in one run."""
    from drivers.camera.threaded import camera_from_frames
    from gate.capture.pipeline import CapturePipeline, CaptureSettings
    from gate.errors import ModelError
    from gate.lane import EngineBiometrics
    from models.engine import load_engine

    controller: Lane = engine_lane["controller"]
    settings = CaptureSettings(min_face=60, window_s=3.0)

    def use(pack: str) -> None:
        try:
            engine = load_engine(pack, threads=2)
        except ModelError as exc:
            pytest.skip(f"pack {pack} not prepared ({exc})")
        controller.use_biometrics(EngineBiometrics(engine, CapturePipeline(engine, settings)))

    def one() -> Transaction:
        controller.camera = camera_from_frames(engine_lane["frames"], live=False)
        card = load_passport_folder(engine_lane["folder"])
        transport = InProcessTransport(card)
        engine_lane["documents"].present(PresentedDocument(engine_lane["mrz"], transport, "d"))
        try:
            tx = controller.serve_one(0.1)
        finally:
            controller.camera.close()
        if tx is None or tx.decision is not Decision.ACCEPT:
            raise AssertionError(f"traveller not accepted: {tx}")
        return tx

    use("dlib-cc0")
    dlib = [one() for _ in range(runs(pytestconfig, 2))]
    use("fusion")
    fusion: list[Transaction] = []
    benchmark.pedantic(lambda: fusion.append(one()), rounds=3, iterations=1)
    key = "document_to_exit_command"
    ours = _percentiles([t.stage_ms[key] for t in fusion])["p50_ms"]
    base = _percentiles([t.stage_ms[key] for t in dlib])["p50_ms"]
    benchmark.extra_info.update(
        document_to_exit_command_p50_ms_fusion=ours,
        document_to_exit_command_p50_ms_dlib=base,
        frames_fusion=fusion[-1].frames_seen,
        frames_dlib=dlib[-1].frames_seen,
        speedup_vs_dlib=round(base / max(ours, 1e-6), 1),
    )
    assert all(t.stage_ms[key] > 0 for t in fusion + dlib)
