"""The capture stage started with the chip read, on a kiosk lane in real time.

A traveller who has just put the passport on the reader stands in front of the camera. The
chip read takes a fifth of a second on an emulated chip and one to three seconds on a real
one (20 KB of DG2 at ISO 14443 speeds). Run one after the other, the traveller waits for
the sum of both. ``CaptureAhead`` runs the capture in a thread from the moment the
transaction starts, so the wait is the longer of the two (the chip photo's enrolment then
waits for the capture: ``gate.lane.adapters.EngineBiometrics`` gives the engine to a capture
for its whole window). Nothing is decided earlier or on less: the lane still checks the
document first, then enters CAPTURE and takes the capture's result (or its error) exactly
as if it had captured then; the capture keeps its own deadline, quality checks and liveness
window.

A transaction that ends before it takes the result (a document referral, a stop signal)
cancels the capture: the camera it reads raises at its next frame, and the thread is joined
before the next traveller's transaction starts.

With ``watch_approach`` too (``egate run``), the capture starts earlier still: when the
lane is idle and in service (``watch``), it watches whoever approaches the camera: the face
is tracked, its quality measured, its liveness frames gathered over a sliding window, and
all of it forgotten as soon as no face (or a second one) is seen. The scan (``start``)
tells that capture the traveller's transaction has begun (``Scan``); from then on it is the
ordinary capture, with its own deadline, which closes no sooner than a few frames after the
scan, and fuses mostly shots taken after it (``gate.capture.pipeline``). So a traveller
who stood at the camera while opening the passport does not wait for a liveness window
that their approach already filled. Nothing seen before the scan leaves the process.

Off unless ``enabled`` (``egate run`` turns it on): a simulation's lock-step clock and
camera expect one reader at a time, and there the capture simply runs in the lane's thread
when the lane asks for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from gate.errors import DeviceError, DeviceTimeoutError
from gate.interfaces import Camera, Frame
from gate.transaction import CaptureOutcome

JOIN_S = 5.0  # a cancelled capture ends after the frame it is working on
WATCH_RETRY_S = 1.0  # after a watch ended on its own (the camera failed), wait this long


class Scan:
    """The traveller's scan as a capture that started before it sees it: ``event`` is set
    when the transaction ``tid`` begins (or the capture is cancelled, so nothing waits)."""

    def __init__(self, tid: str | None = None) -> None:
        self.event = threading.Event()
        self.tid = tid
        if tid is not None:  # the transaction has begun: nothing to wait for
            self.event.set()

    def arrived(self, tid: str) -> None:
        self.tid = tid
        self.event.set()


Capture = Callable[[Camera, Scan], CaptureOutcome]


class _CancellableCamera:
    """The lane's camera as one capture reads it; after ``cancel`` every read raises."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.cancelled = threading.Event()

    def read(self, timeout: float) -> Frame:
        if self.cancelled.is_set():
            raise DeviceError("capture cancelled: the transaction ended")
        return self.camera.read(timeout)

    def close(self) -> None:
        """The lane's camera stays open: it belongs to the lane, not to one capture."""


class _Run:
    """One transaction's capture: in a thread (ahead) or, unstarted, in the caller's."""

    def __init__(self, capture: Capture, camera: Camera, ahead: bool, scan: Scan) -> None:
        self._capture = capture
        self.scan = scan  # not yet arrived: a watch, the capture began before the scan
        self.camera = _CancellableCamera(camera)
        self._camera = self.camera if ahead else camera  # unstarted: the lane's own, as ever
        self._done = threading.Event()
        self._outcome: CaptureOutcome | None = None
        self._error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if ahead:
            self.thread = threading.Thread(target=self._work, name="capture-ahead", daemon=True)
            self.thread.start()

    def _work(self) -> None:
        try:
            self._outcome = self._capture(self._camera, self.scan)
        except BaseException as exc:  # handed to the lane's thread, raised there
            self._error = exc
        finally:
            self._done.set()

    def result(self, limit_s: float) -> CaptureOutcome:
        if self.thread is None:
            return self._capture(self._camera, self.scan)
        # In slices: a stop signal's exception is raised in the lane's thread meanwhile.
        waited = 0.0
        while not self._done.wait(0.25):
            waited += 0.25
            if waited >= limit_s:
                raise DeviceTimeoutError(f"capture did not end within {limit_s:g} s")
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome

    @property
    def watching(self) -> bool:
        """A watch still waiting for its scan."""
        alive = self.thread is not None and self.thread.is_alive()
        return alive and not self.scan.event.is_set()

    def cancel(self) -> None:
        self.camera.cancelled.set()
        self.scan.event.set()  # a capture waiting for the scan stops waiting
        if self.thread is not None:
            self.thread.join(JOIN_S)


class CaptureAhead:
    """``start`` at the transaction's start, ``result`` when the lane wants the capture,
    ``cancel`` when the transaction ends (whatever happened)."""

    def __init__(self, limit_s: float, enabled: bool = False, watch_approach: bool = False) -> None:
        self.limit_s = limit_s  # the longest wait for a capture ahead (then REFER_DEVICE)
        self.enabled = enabled
        self.watch_approach = watch_approach  # with enabled: ``watch`` starts a capture
        self._run: _Run | None = None
        self._watch_ended_at = -float("inf")  # when the last watch ended without its scan

    def watch(self, capture: Capture, camera: Camera, now: float) -> None:
        """The idle lane, in service: begin ``capture(camera, scan)`` now, unless one is
        already watching, or the last ended by itself less than ``WATCH_RETRY_S`` ago
        (``now``: ``time.monotonic()``)."""
        if not (self.enabled and self.watch_approach):
            return
        run = self._run
        if run is not None and run.watching:
            return
        if run is not None and not run.scan.event.is_set():
            self._watch_ended_at = now  # it ended before any scan: the camera failed
        self.cancel()
        if now - self._watch_ended_at >= WATCH_RETRY_S:
            self._run = _Run(capture, camera, True, Scan())

    def start(self, capture: Capture, camera: Camera, tid: str) -> None:
        """Transaction ``tid`` begins: a watching capture takes it from here; otherwise
        begin ``capture(camera, Scan(tid))`` now (enabled) or keep it for ``result``."""
        run = self._run
        if run is not None and run.watching:
            run.scan.arrived(tid)
            return
        self.cancel()
        self._run = _Run(capture, camera, self.enabled, Scan(tid))

    @property
    def running(self) -> bool:
        """Whether a capture is running in its thread now."""
        thread = None if self._run is None else self._run.thread
        return thread is not None and thread.is_alive()

    def result(self) -> CaptureOutcome:
        """The capture's outcome (waiting at most ``limit_s`` for a capture ahead); its
        error is raised here, in the lane's thread."""
        if self._run is None:
            raise DeviceError("no capture was started for this transaction")
        return self._run.result(self.limit_s)

    def cancel(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            run.cancel()
