"""The scenario runner: the same lane as a kiosk (``build_lane``), wired to the emulators.

Per run: a test PKI and a trust store in a temporary folder (stamped with this process, so
one left by a killed run is removed at the next start); the turnstile emulator on a pty
driven by the real driver; the synthetic camera served as MJPEG over HTTP on 127.0.0.1 and
read back through OpenCV; virtual passports presented through pcscd + vpcd on a vpcd reader
held for the whole run (or in process); the audit log on disk. An audit log that cannot be
opened or written makes each traveller ``AUDIT_FAILED`` (fail-safe), and the run goes on.
Per traveller: issue the passport, put the card in the slot, show the traveller to the
camera, lay the document on the tray, let the gate decide, and when the gate opens the exit,
walk the traveller (and a tailgater) through the emulated beams.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from drivers.runtime_dir import owned_temp_dir, remove_stale_temp_dirs
from gate.clock import Clock, ScaledClock, SystemClock
from gate.config import (
    AuditConfig,
    CameraConfig,
    DocumentConfig,
    FaceConfig,
    GateConfig,
    LivenessConfig,
    ReaderConfig,
    TimeoutsConfig,
    TurnstileConfig,
)
from gate.decision import DecisionPolicy
from gate.errors import AuditError, GateError
from gate.lane import (
    AuditLogSink,
    AuditSink,
    GateEvent,
    Lane,
    Observer,
    build_lane,
    lane_camera,
)
from gate.outcome import Transaction
from gate.record import Recorder, RecordSettings, record_lane
from gate.simulate.lane import (
    CardSlot,
    InProcessSlot,
    LockstepCamera,
    SceneFeed,
    SimDocuments,
    UnavailableAudit,
    settle,
)
from gate.simulate.page_tray import PageCameraTray
from gate.simulate.pki import trust_folder
from gate.simulate.report import TravellerResult
from gate.simulate.scenario import Scenario, TravellerSpec
from gate.simulate.staged import Staged
from gate.simulate.travellers import Travellers
from gate.transaction import PresentedDocument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationOptions:
    speed: float = 1.0
    use_pcsc: bool = True
    pack: str | None = None
    audit_path: Path | None = None
    workdir: Path | None = None
    protocol: str = "gatectl"
    fps: float = 30.0  # the synthetic camera's frame rate (lock-step: at most this)
    min_face: int = 60
    best_shot_window_s: float = 3.0
    frames: int = 30
    timeouts: TimeoutsConfig = field(default_factory=TimeoutsConfig)
    policy: DecisionPolicy = field(default_factory=DecisionPolicy)
    status: TextIO | None = None  # live status line (stderr in the CLI)
    door_time_scale: float | None = None  # None: 1 / speed; 0 gives instant doors
    observers: tuple[Observer, ...] = ()  # more observers of the lane (the console, a broker)
    record: RecordSettings | None = None  # record each transaction (gate.record, opt-in)
    ocr_pages: bool = False  # the lane reads each rendered page's MRZ by OCR (egate demo)
    page_camera: bool = False  # ... seen by a camera over the tray (gate.simulate.page_tray)


class StatusLine:
    """One line on a terminal, rewritten as the gate moves (a plain log line otherwise)."""

    def __init__(self, stream: TextIO | None, total: int) -> None:
        self.stream = stream
        self.total = total
        self.current = ""
        self.index = 0
        self._tty = bool(stream is not None and stream.isatty())

    def __call__(self, event: GateEvent) -> None:
        if self.stream is None or event.kind not in ("state", "alarm", "decision", "audit"):
            return
        text = f"[{self.index + 1}/{self.total}] {self.current}: {event.kind} {event.detail}"
        if self._tty:
            self.stream.write("\r\x1b[K" + text[:120])
        elif event.kind != "state":
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.stream is not None and self._tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class Simulation(Staged):
    """Runs a scenario through one simulated lane. Use as a context manager."""

    def __init__(self, scenario: Scenario, options: SimulationOptions) -> None:
        super().__init__()
        self.scenario = scenario
        self.options = options
        self._walker: Callable[[GateEvent], None] | None = None
        self._current: tuple[int, TravellerSpec] | None = None  # who stands in the lane
        self.clock: Clock = SystemClock() if options.speed == 1.0 else ScaledClock(options.speed)
        self.started = False
        self.recorder: Recorder | None = None

    # -- set-up (torn down by Staged.close) -----------------------------------------------------
    def _start(self) -> None:
        from drivers.camera.mjpeg_server import MjpegServer
        from drivers.turnstile.emulator import Physics, start_emulator
        from gate.simulate.faces import PhotoLibrary
        from gate.simulate.pki import init_pki
        from models.engine import load_engine

        opts = self.options
        if opts.workdir is None:
            remove_stale_temp_dirs("egate-")  # left by runs killed before their clean-up
            workdir = owned_temp_dir("egate-sim-")  # test keys and passports: mode 0700
            self._cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
            self.workdir = workdir
        else:
            self.workdir = opts.workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki = init_pki(self.workdir / "pki", overwrite=True)  # a --workdir is reused

        # The world (who the travellers are) has its own engine: a broken gate pack must
        # not stop the simulator from building the travellers' portraits. It is dlib's:
        # the synthetic scenes place faces by dlib's 5 points (eye corners, nose).
        world = load_engine("dlib-cc0")
        self.photos = PhotoLibrary(lambda image: world.analyze(image, min_face=40))
        self.travellers = Travellers(  # before the lane loads the trust store (its CRL)
            self.photos,
            self.pki,
            self.workdir,
            self.clock,
            seed=self.scenario.seed,
            frames=opts.frames,
            conditions=self.scenario.conditions,
            ocr_pages=opts.ocr_pages or opts.page_camera,
        )

        scale = opts.door_time_scale if opts.door_time_scale is not None else 1.0 / opts.speed
        self.emulator = start_emulator(opts.protocol, physics=Physics(time_scale=scale))
        self._cleanups.append(self.emulator.close)

        self.feed = SceneFeed(lockstep=True)
        self._cleanups.append(self.feed.close)
        self.mjpeg = MjpegServer(self.feed, fps=opts.fps * opts.speed)
        self._cleanups.append(self.mjpeg.close)

        self.slot: CardSlot = self._card_slot()
        self._cleanups.append(self.slot.close)

        self.documents: SimDocuments | PageCameraTray = SimDocuments()
        if opts.page_camera:  # the page reader is a camera over the tray: pages by OCR
            self.documents = PageCameraTray(self.clock)
            self._cleanups.append(self.documents.close)
        self.status = StatusLine(opts.status, len(self.scenario.travellers))
        config = self._config()
        # The kiosk's camera (the MJPEG stream read back through OpenCV), reporting each
        # frame it delivers so the scene moves in lock-step with the gate.
        camera = LockstepCamera(lane_camera(config, self.clock), self.feed)
        self._cleanups.append(camera.close)
        self.lane: Lane = build_lane(
            config,
            camera=camera,
            clock=self.clock,
            documents=self.documents,
            audit=self._audit(config.audit.path),
            observers=(self.status, self._on_event, *opts.observers),
        )
        self._cleanups.append(self.lane.close)
        if opts.record is not None:
            self.recorder = record_lane(self.lane, opts.record)
            self._cleanups.append(self.recorder.close)
        if opts.ocr_pages or opts.page_camera:  # the OCR loaded before the first traveller
            self.lane.document_stage.warm_up()
        self.turnstile = self.lane.turnstile
        self.camera = self.lane.camera
        self._watchlists()
        self.started = True

    def _watchlists(self) -> None:
        """The lists the scenario's wanted and stolen-document travellers are on."""
        from gate.simulate.watchlists import scenario_watchlist

        lane, photos = self.lane, self.photos
        checks = scenario_watchlist(self.scenario, self.workdir / "watch", lane.biometrics.enrol,
                                    photos.portrait, lambda: lane.biometrics.pack_id)  # fmt: skip
        lane.checks.use(checks, 0.5 * max(1.0, self.options.speed))  # in gate time

    def _config(self) -> GateConfig:
        """The lane's configuration: the kiosk's, with the emulators' addresses."""
        opts, policy = self.options, self.options.policy
        return GateConfig(
            camera=CameraConfig(
                address=self.mjpeg.url,
                min_face=opts.min_face,
                best_shot_window_s=opts.best_shot_window_s,
            ),
            reader=ReaderConfig(trust_store=trust_folder(self.pki, self.workdir / "trust")),
            turnstile=TurnstileConfig(address=self.emulator.address),
            face=FaceConfig(pack=opts.pack or "default", target_fmr=policy.target_fmr),
            liveness=LivenessConfig(threshold=policy.liveness_threshold),
            document=DocumentConfig(
                require_passive_auth=policy.require_passive_auth,
                refer_on_active_auth_invalid=policy.refer_on_active_auth_invalid,
                check_expiry=policy.check_expiry,
                require_clone_check=policy.require_clone_check,
                refer_on_stale_crl=policy.refer_on_stale_crl,
            ),
            timeouts=opts.timeouts,
            audit=AuditConfig(path=opts.audit_path or self.workdir / "audit.db"),
        )

    def _audit(self, path: Path) -> AuditSink:
        """The audit log, kept open by the simulation (``audit_log``), or a sink that fails
        each record when the log cannot be opened (``audit_error`` says why)."""
        from gate.audit import AuditLog

        self.audit_log: AuditLog | None = None
        self.audit_error = ""
        self.audit_path = path
        try:
            self.audit_log = AuditLog.open(path)
        except AuditError as exc:
            log.error("%s: every traveller will be AUDIT_FAILED", exc)
            self.audit_error = str(exc)
            return UnavailableAudit(str(exc))
        self._cleanups.append(self.audit_log.close)
        return AuditLogSink(self.audit_log)

    def _card_slot(self) -> CardSlot:
        if not self.options.use_pcsc:
            return InProcessSlot()
        from gate.errors import DeviceError
        from gate.simulate.pcsc_slot import PcscSlot

        try:
            return PcscSlot()
        except DeviceError as exc:
            raise DeviceError(f"{exc} (--no-pcsc reads the chips in process instead)") from exc

    # -- the world reacting to the gate ------------------------------------------------------
    def _on_event(self, event: GateEvent) -> None:
        if event.kind == "door" and event.detail == "exit_open_commanded":
            if self._walker is not None:
                self._walker(event)
            else:  # between travellers: an officer let a referred traveller through
                self.emulator.traveller_passes(tailgater=False)
        if event.kind == "door" and event.detail == "entry_open_commanded" and self._walker:
            self.emulator.traveller_walks_back()  # the referred traveller leaves
        if event.kind == "challenge" and event.detail == "asked" and self._current is not None:
            index, spec = self._current  # the screen asks; a traveller who answers does it
            if spec.challenge == "answer" and spec.approach is None:  # a recording cannot
                action = str(event.data.get("action", ""))
                self.feed.show(self.travellers.answer_frames(index, spec, action))

    # -- travellers ------------------------------------------------------------------------------
    def run_traveller(self, index: int, spec: TravellerSpec) -> TravellerResult:
        timings: dict[str, float] = {}
        self.status.index, self.status.current = index, spec.label
        # An officer's decision on an earlier traveller is carried out before this one
        # steps in, as in a real lane: it does not eat into this traveller's capture.
        if self.lane.apply_officer_actions():
            settle(self.emulator, self.turnstile)
        started = time.perf_counter()
        try:
            issued = self.travellers.issue(index, spec)
            frames = self.travellers.scene_frames(index, spec)
        except GateError as exc:
            return TravellerResult(index, spec.label, spec.kind, spec.expect, None, str(exc))
        timings["prepare"] = (time.perf_counter() - started) * 1000.0
        tailgater = spec.kind == "tailgater"
        self._walker = lambda _e: self.emulator.traveller_passes(tailgater=tailgater)
        self._current = (index, spec)
        if self.recorder is not None:
            self.recorder.note_traveller(kind=spec.kind, expected=spec.expect.value)
        started = time.perf_counter()
        transport = self.slot.insert(issued.card)
        timings["card_in"] = (time.perf_counter() - started) * 1000.0
        self.feed.show(frames)
        try:
            page, box = issued.page, issued.portrait_box
            self.documents.lay(
                PresentedDocument(issued.printed_mrz, transport, spec.label, page, box)
            )
            started = time.perf_counter()
            transaction = self.lane.serve_one(5.0)
            timings["gate"] = (time.perf_counter() - started) * 1000.0
        finally:
            self._walker, self._current = None, None
            self.feed.clear()
            started = time.perf_counter()
            self.slot.remove()
            timings["card_out"] = (time.perf_counter() - started) * 1000.0
        started = time.perf_counter()
        settle(self.emulator, self.turnstile)
        timings["settle"] = (time.perf_counter() - started) * 1000.0
        if transaction is None:
            error = "the gate did not take the document"
            return TravellerResult(index, spec.label, spec.kind, spec.expect, None, error, timings)
        return TravellerResult(
            index, spec.label, spec.kind, spec.expect, transaction, timings_ms=timings
        )

    def run(self, indices: Sequence[int] | None = None) -> list[TravellerResult]:
        """The travellers at ``indices`` of the scenario (default: all), in that order; each
        keeps its scenario index (a lane of several runs only its share)."""
        chosen = range(len(self.scenario.travellers)) if indices is None else indices
        results = [self.run_traveller(i, self.scenario.travellers[i]) for i in chosen]
        self.status.done()
        return results


def run_scenario(scenario: Scenario, options: SimulationOptions) -> list[TravellerResult]:
    with Simulation(scenario, options) as simulation:
        return simulation.run()


def transactions(results: list[TravellerResult]) -> list[Transaction]:
    return [r.transaction for r in results if r.transaction is not None]


if __name__ == "__main__":  # pragma: no cover - a developer's shortcut
    from gate.simulate.report import format_table
    from gate.simulate.scenario import load_scenario

    logging.basicConfig(level=logging.INFO)
    out = run_scenario(load_scenario(None), SimulationOptions(status=sys.stderr, use_pcsc=False))
    print(format_table(out))
