"""``egate simulate --replay DIR``: recorded transactions played through the same lane again.

The lane is ``build_lane`` with the face pack and settings asked for (``--pack``, a kiosk
``--config``), the turnstile emulator behind the real driver, and an audit log. Per recorded
transaction, the recorded printed MRZ is laid on the tray, the chip reader gives the recorded
data groups (DG1 and the DG2 portrait decoded again from the bytes the chip gave; the chip's
authentication results as recorded: the chip is not there to be asked again), and the camera
gives the recorded frames in lock-step at their own timing: frame n is the capture's n-th
read, never dropped, stamped with its recorded time, and during the capture the lane's
clock is the recording's (``ReplayClock``: each read returns at its recorded time, the
capture ends at its recorded time), so the capture reads every recorded frame, ends where
it ended and takes as long, whatever this machine's speed. Outside the capture, time runs
at this machine's pace. After the last
recorded frame the camera gives none (the traveller has left its view).
When the gate opens the exit, the traveller walks through (with a tailgater when the
recording had one); when it refers, the traveller walks back.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from gate import errors
from gate.clock import Clock, ScaledClock, SystemClock
from gate.config import (
    AuditConfig,
    CameraConfig,
    FaceConfig,
    GateConfig,
    TimeoutsConfig,
    TurnstileConfig,
    load_config,
)
from gate.errors import DeviceTimeoutError, DocumentError, InputError
from gate.interfaces import Frame
from gate.lane import AuditLogSink, AuditSink, GateEvent, Lane, build_lane
from gate.record import RecordedFrame, RecordedTransaction, Recording
from gate.simulate.lane import SimDocuments, UnavailableAudit, settle
from gate.simulate.report import TravellerResult
from gate.simulate.runner import StatusLine
from gate.simulate.staged import Staged
from gate.transaction import DocumentRead, PresentedDocument
from gate.types import ImageBGR


@dataclass(frozen=True)
class ReplayOptions:
    pack: str | None = None
    config: Path | None = None  # a kiosk config: its face, capture, policy and timeouts
    audit_path: Path | None = None
    speed: float = 1.0
    protocol: str = "gatectl"
    timeouts: TimeoutsConfig = field(default_factory=TimeoutsConfig)  # without --config
    status: TextIO | None = None


# The errors a chip read may raise, by the name a recording gives them.
_ERRORS: dict[str, type[errors.GateError]] = {
    "UnreadableMrz": errors.DocumentError,
    **{
        cls.__name__: cls
        for cls in (
            errors.DocumentError,
            errors.SecurityError,
            errors.DeviceError,
            errors.DeviceTimeoutError,
            errors.DeviceGoneError,
            errors.ProtocolError,
            errors.FaceError,
            errors.InputError,
        )
    },
}


HOLD_MARGIN_S = 0.05  # a read returns this far before its recorded time (see ReplayClock)


class ReplayClock:
    """The lane's clock in a replay: real (or scaled) time, but during a capture set to the
    recording's: each recorded frame's read returns at its recorded time (``reach``: held
    back when this machine is slower, moved on when it is faster), and the capture gives its
    result at the recorded time. So the capture reads every recorded frame, ends where it
    ended and takes as long, on any machine. It never goes back."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.offset = 0.0  # time skipped forward (a faster machine)
        self.held: float | None = None  # time held back (a slower machine)

    def now(self) -> float:
        now = self.base.now() + self.offset
        return now if self.held is None else min(now, self.held)

    def wall(self) -> float:
        return self.base.wall() + self.offset

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)

    def hold(self, until: float) -> None:
        """Show no later time than ``until`` (or than a later hold) until ``release``."""
        self.held = until if self.held is None else max(self.held, until)

    def reach(self, at: float) -> None:
        """Show ``at`` from now on (or the later time already shown), until ``release``."""
        self.hold(at)
        behind = at - (self.base.now() + self.offset)
        if behind > 0:
            self.offset += behind

    def release(self) -> None:
        self.held = None


class ReplayCamera:
    """The recorded frames of the traveller in the lane, one per read (see the module)."""

    def __init__(self, clock: ReplayClock) -> None:
        self.clock = clock
        self._frames: Sequence[tuple[ImageBGR, RecordedFrame]] = ()
        self._started: float | None = None  # the recorded capture's start and end
        self._ended: float | None = None
        self._origin: float | None = None  # replay time of the recorded transaction's start
        self._next = 0
        self.description = "recorded frames"

    def show(
        self,
        frames: Sequence[tuple[ImageBGR, RecordedFrame]],
        capture: tuple[float | None, float | None] = (None, None),
    ) -> None:
        """The next traveller's frames, and when its capture started and ended."""
        self._frames, (self._started, self._ended) = tuple(frames), capture
        self._next, self._origin = 0, None
        self.clock.release()

    def capture_started(self, at: float) -> None:
        """The lane began its capture at ``at`` (its clock): the recording's timing holds."""
        if self._frames and self._started is not None:
            self._origin = at - self._started
            self.clock.hold(at)

    def capture_ended(self) -> None:
        """The capture gave its result: at the recorded time."""
        if self._origin is not None and self._ended is not None:
            self.clock.reach(self._origin + self._ended)

    def read(self, timeout: float) -> Frame:
        if self._next >= len(self._frames):
            if self._origin is not None and self._ended is not None:
                self.clock.reach(self._origin + self._ended)  # the capture ends there
            elif self.clock.held is not None:
                self.clock.reach(self.clock.held + timeout)
            self.clock.sleep(min(timeout, 0.01))
            raise DeviceTimeoutError("no frame: the recording ends here")
        image, recorded = self._frames[self._next]
        self._next += 1
        if self._origin is None:
            return Frame(image, self.clock.now(), recorded.index)
        self.clock.reach(self._origin + recorded.read - HOLD_MARGIN_S)
        return Frame(image, self._origin + recorded.t, recorded.index)

    def close(self) -> None:
        self._frames = ()
        self.clock.release()


class ReplayChipReader:
    """Gives the recorded read of the traveller in the lane (or raises its recorded error)."""

    def __init__(self) -> None:
        self.answer: DocumentRead | errors.GateError | None = None

    def read(self, document: PresentedDocument, wall_time: float) -> DocumentRead:
        answer, self.answer = self.answer, None
        if answer is None:
            raise errors.DeviceGoneError("no recorded document")
        if isinstance(answer, errors.GateError):
            raise answer
        return answer


def recorded_read(transaction: RecordedTransaction) -> DocumentRead | errors.GateError:
    """What the chip reader gave in ``transaction``: a read, or the error it raised.
    ``InputError`` naming the transaction when its data groups cannot be decoded."""
    from gate.icao import lds
    from gate.icao.reader import decode_photo

    recorded = transaction.document
    if recorded is None:
        raise InputError(f"{transaction.folder}: no document recorded")
    if recorded.error_type:
        return _ERRORS.get(recorded.error_type, errors.GateError)(recorded.error)
    try:
        dg1 = lds.decode_dg1(recorded.files["DG1"])
        photo = None
        if "DG2" in recorded.files:
            faces = lds.decode_dg2(recorded.files["DG2"])
            try:
                photo = decode_photo(faces[0].image) if faces else None
            except DocumentError:
                photo = None  # as the reader does: an undecodable portrait is reported
    except KeyError as exc:
        raise InputError(f"{transaction.folder}: the chip's DG1 is not recorded") from exc
    except (DocumentError, ValueError, IndexError) as exc:
        raise InputError(f"{transaction.folder}: a recorded data group is unusable: {exc}") from exc
    return DocumentRead(
        document_number=dg1.document_number,
        expiry_date=dg1.expiry_date,
        dg1_mrz="\n".join(dg1.lines),
        photo=photo,
        passive_auth=recorded.passive_auth,  # type: ignore[arg-type]
        active_auth=recorded.active_auth,  # type: ignore[arg-type]
        chip_auth=recorded.chip_auth,  # type: ignore[arg-type]
        access=recorded.access,
        chip_files=recorded.files,
    )


class Replay(Staged):
    """Plays a recording through one lane. Use as a context manager."""

    def __init__(self, recording: Recording, options: ReplayOptions) -> None:
        super().__init__()
        self.recording = recording
        self.options = options
        base: Clock = SystemClock() if options.speed == 1.0 else ScaledClock(options.speed)
        self.clock = ReplayClock(base)
        self._walker: Callable[[], None] | None = None

    def _start(self) -> None:
        from drivers.runtime_dir import owned_temp_dir
        from drivers.turnstile.emulator import Physics, start_emulator

        opts = self.options
        workdir = owned_temp_dir("egate-replay-")
        self._cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        self.emulator = start_emulator(opts.protocol, physics=Physics(time_scale=1 / opts.speed))
        self._cleanups.append(self.emulator.close)
        config = self.config(opts.audit_path or workdir / "audit.db")
        self.camera = ReplayCamera(self.clock)
        self.chip = ReplayChipReader()
        self.documents = SimDocuments()
        self.status = StatusLine(opts.status, len(self.recording.transactions))
        self.lane: Lane = build_lane(
            config,
            camera=self.camera,
            chip_reader=self.chip,
            clock=self.clock,
            documents=self.documents,
            audit=self._audit(config.audit.path),
            observers=(self.status, self._on_event),
        )
        self._cleanups.append(self.lane.close)

    def config(self, audit: Path) -> GateConfig:
        """The kiosk's config (or the simulator's), with the replay's devices."""
        opts = self.options
        if opts.config is not None:
            config = load_config(opts.config)
        else:
            config = GateConfig(
                camera=CameraConfig(address="replay", min_face=60, best_shot_window_s=3.0),
                timeouts=opts.timeouts,
            )
        face = config.face if opts.pack is None else FaceConfig(
            pack=opts.pack, target_fmr=config.face.target_fmr
        )  # fmt: skip
        return replace(
            config,
            face=face,
            turnstile=TurnstileConfig(address=self.emulator.address),
            audit=AuditConfig(path=audit),
        )

    def _audit(self, path: Path) -> AuditSink:
        from gate.audit import AuditLog
        from gate.errors import AuditError

        try:
            audit_log = AuditLog.open(path)
        except AuditError as exc:
            return UnavailableAudit(str(exc))
        self._cleanups.append(audit_log.close)
        return AuditLogSink(audit_log)

    def _on_event(self, event: GateEvent) -> None:
        if event.kind == "state":
            if event.detail == "capture":
                self.camera.capture_started(event.at)
            else:
                self.clock.release()
            return
        if event.kind == "capture":
            self.camera.capture_ended()
            return
        if event.kind != "door" or self._walker is None:
            return
        if event.detail == "exit_open_commanded":
            self._walker()
        elif event.detail == "entry_open_commanded":
            self.emulator.traveller_walks_back()

    def run_one(self, index: int, recorded: RecordedTransaction) -> TravellerResult:
        kind = recorded.kind or "recorded"
        self.status.index, self.status.current = index, recorded.label or recorded.name
        name = recorded.label or recorded.name
        try:
            answer = recorded_read(recorded)
            frames = [(f.image(), f) for f in recorded.frames]
        except InputError as exc:
            return TravellerResult(index, name, kind, recorded.outcome, None, str(exc))
        tailgater = kind == "tailgater" or any(
            e["detail"] == "tailgating" for e in recorded.turnstile
        )
        self._walker = lambda: self.emulator.traveller_passes(tailgater=tailgater)
        self.chip.answer = answer
        self.camera.show(frames, (recorded.capture_started, recorded.capture_ended))
        mrz = recorded.document.mrz if recorded.document else ""
        try:
            self.documents.lay(PresentedDocument(mrz, None, name))
            transaction = self.lane.serve_one(5.0)
        finally:
            self._walker = None
            self.camera.show(())
        settle(self.emulator, self.lane.turnstile)
        if transaction is None:
            error = "the gate did not take the document"
            return TravellerResult(index, name, kind, recorded.outcome, None, error)
        return TravellerResult(index, name, kind, recorded.outcome, transaction)

    def run(self) -> list[TravellerResult]:
        results = [self.run_one(i, t) for i, t in enumerate(self.recording.transactions)]
        self.status.done()
        return results


def replay(recording: Recording, options: ReplayOptions) -> list[TravellerResult]:
    with Replay(recording, options) as player:
        return player.run()


def same_outcomes(results: Sequence[TravellerResult]) -> int:
    """How many replayed outcomes equal the recorded ones."""
    return sum(r.actual is r.expected for r in results)


__all__ = ["Replay", "ReplayCamera", "ReplayOptions", "recorded_read", "replay"]
