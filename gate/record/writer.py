"""The recorder: each transaction of a lane written to a recording folder (opt-in).

It hears the lane through its seams only: the camera frames the capture reads
(``RecordingCamera``), the document as the chip reader gave it (``RecordingChipReader``), and
the lane's events (``Recorder.observe``: start, door and alarm events, the outcome). The
lane's thread only copies what it hands over; a writer thread encodes and writes it (on
the same CPUs: recording costs a lossless PNG encoding per frame the gate analyses, in the
background). A frame the writer cannot keep up with is not
recorded (counted in the transaction); a disk that fails loses the recording, never the
gate: the failure is logged (a count and the reason, never what was recorded).

What is written is personal data (the traveller's face, the MRZ, the chip's data groups):
``docs/recording.md``. Folders are 0700, files 0600, and transactions older than the
retention limit are deleted at start and then every hour.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gate.errors import GateError, InputError
from gate.interfaces import Frame
from gate.lane import GateEvent
from gate.outcome import Transaction
from gate.record import folder as disk
from gate.transaction import DocumentRead, PresentedDocument
from gate.types import ImageBGR

log = logging.getLogger(__name__)

QUEUE_LENGTH = 256  # frames waiting for the writer (about 8 s of a 30 fps camera)
PRUNE_EVERY_S = 3600.0
TURNSTILE_KINDS = ("door", "alarm", "fail_safe")


@dataclass(frozen=True)
class RecordSettings:
    """Where to record, for how many days, and what records (``egate run``...)."""

    folder: Path
    days: int = 30
    producer: str = "egate"

    def __post_init__(self) -> None:
        if not 1 <= self.days <= disk.MAX_RETENTION_DAYS:
            raise InputError(f"--record-days must be 1..{disk.MAX_RETENTION_DAYS}, got {self.days}")


@dataclass
class _Current:
    """The transaction being recorded (the lane's thread writes it)."""

    name: str
    transaction_id: str
    started_at: float  # gate clock
    started_wall: float
    label: str
    traveller: dict[str, str] | None
    document: dict[str, Any] | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)
    frames_not_recorded: int = 0
    capture_started: float | None = None  # when the capture stage began (after the start)
    capture_ended: float | None = None  # when it gave its result
    turnstile: list[dict[str, Any]] = field(default_factory=list)
    opened: bool = False
    written: set[str] = field(default_factory=set)  # the files on disk (the writer's)


class Recorder:
    """Records a lane's transactions into ``settings.folder``. ``close`` when done."""

    def __init__(self, settings: RecordSettings) -> None:
        self.settings = settings
        self._root = disk.open_folder(settings.folder)
        try:
            claim(self._root, settings)
            disk.prune(self._root, settings.days)
        except BaseException:
            os.close(self._root)
            raise
        self._pruned = time.monotonic()
        self._lock = threading.Lock()
        self._current: _Current | None = None
        self._next_traveller: dict[str, str] | None = None
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(QUEUE_LENGTH)
        self._folders: dict[str, int] = {}
        self.failures = 0
        self.recorded = 0
        self._detach: list[Callable[[], None]] = []
        self._writer = threading.Thread(target=self._write, name="recorder", daemon=True)
        self._writer.start()

    # -- what the lane hands over (its thread) ------------------------------------------------
    def note_traveller(self, **traveller: str) -> None:
        """Who the next transaction is, where the caller knows (the simulator)."""
        self._next_traveller = dict(traveller)

    def observe(self, event: GateEvent) -> None:
        """A lane observer: start, turnstile events, outcome."""
        if event.kind == "transaction" and event.detail == "started" and event.transaction_id:
            self._begin(event)
            return
        with self._lock:
            current = self._current
        if current is None or event.transaction_id != current.transaction_id:
            return
        if event.kind == "state" and event.detail == "capture":
            current.capture_started = event.at - current.started_at
        elif event.kind == "capture":
            current.capture_ended = event.at - current.started_at
        elif event.kind in TURNSTILE_KINDS:
            entry = {"t": event.at - current.started_at, "kind": event.kind}
            current.turnstile.append({**entry, "detail": event.detail})
        elif event.kind == "transaction" and event.detail == "finished":
            transaction = event.data.get("transaction")
            if isinstance(transaction, Transaction):
                self._finish(current, transaction)

    def frame(self, frame: Frame, read_at: float) -> None:
        """A frame the capture read, and when the read returned (gate clock)."""
        with self._lock:
            current = self._current
        if current is None:
            return  # between travellers (a probe, an idle read): not a transaction's
        number = len(current.frames) + current.frames_not_recorded
        name = f"frames/{number:06d}.png"
        image = np.array(frame.image, copy=True)
        if self._submit(lambda: self._write_frame(current, name, image), block=False):
            start = current.started_at
            current.frames.append(
                {"file": name, "t": frame.timestamp - start, "index": frame.index,
                 "read": read_at - start}
            )  # fmt: skip
        else:
            current.frames_not_recorded += 1

    def document(
        self, presented: PresentedDocument, read: DocumentRead | None, error: BaseException | None
    ) -> None:
        with self._lock:
            current = self._current
        if current is None:
            return
        chip: dict[str, Any] | None = None
        files: dict[str, bytes] = {}
        if read is not None:
            for name, content in read.chip_files.items():
                path = f"chip/{name}.bin"
                if disk.CHIP_NAME.match(path):
                    files[path] = bytes(content)
            chip = {
                "files": {path[5:-4]: path for path in files},
                "passive_auth": read.passive_auth,
                "active_auth": read.active_auth,
                "chip_auth": read.chip_auth,
                "access": read.access,
                "photo_decoded": read.photo is not None,
            }
        current.document = {
            "mrz": presented.printed_mrz.splitlines(),
            "chip": chip,
            "error": None
            if error is None
            else {"type": type(error).__name__, "message": str(error)},
        }
        if files:
            self._submit(lambda: self._write_files(current, files), block=True)

    # -- transactions -----------------------------------------------------------------------------
    def _begin(self, event: GateEvent) -> None:
        wall = time.time()
        tid = event.transaction_id or ""
        current = _Current(
            name=disk.transaction_name(wall, tid),
            transaction_id=tid,
            started_at=event.at,
            started_wall=wall,
            label=str(event.data.get("label", "")),
            traveller=self._next_traveller,
        )
        self._next_traveller = None
        with self._lock:
            self._current = current

    def _finish(self, current: _Current, transaction: Transaction) -> None:
        with self._lock:
            self._current = None
        manifest = {
            "format_version": disk.FORMAT_VERSION,
            "transaction_id": current.transaction_id,
            "started_at": current.started_wall,
            "label": current.label,
            "traveller": current.traveller,
            "document": current.document,
            "capture_started": current.capture_started,
            "capture_ended": current.capture_ended,
            "frames": current.frames,
            "frames_not_recorded": current.frames_not_recorded,
            "turnstile": current.turnstile,
            "outcome": transaction.summary(),
        }
        if not self._submit(lambda: self._write_manifest(current, manifest), block=True):
            self._failed(current, "the writer is stuck")

    def _submit(self, job: Callable[[], None], *, block: bool) -> bool:
        try:
            self._jobs.put(job, block=block, timeout=5.0 if block else None)
        except queue.Full:
            return False
        return True

    # -- the writer thread ----------------------------------------------------------------------
    def _write(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=60.0)  # an idle lane is pruned too
            except queue.Empty:
                job = self._prune_due
            if job is None:
                return
            try:
                job()
            except (OSError, GateError, ValueError) as exc:
                self.failures += 1
                log.warning("recording: a write failed (%s)", getattr(exc, "strerror", None) or exc)
            except Exception as exc:  # the writer must outlive any failure (never the lane's)
                self.failures += 1
                log.warning("recording: a write failed (%s)", type(exc).__name__)
            self._prune_due()

    def _prune_due(self) -> None:
        if time.monotonic() - self._pruned >= PRUNE_EVERY_S:
            self._pruned = time.monotonic()
            removed = disk.prune(self._root, self.settings.days)
            if removed:
                log.info("recording: %d transactions past the retention limit deleted", removed)

    def _folder(self, current: _Current) -> int:
        fd = self._folders.get(current.name)
        if fd is None:
            if current.opened:
                raise OSError(f"transaction folder {current.name} is gone")
            current.opened = True
            fd = disk.make_folder(self._root, current.name)
            self._folders[current.name] = fd
            for sub in ("frames", "chip"):
                os.close(disk.make_folder(fd, sub))
        return fd

    def _write_frame(self, current: _Current, name: str, image: ImageBGR) -> None:
        import cv2

        ok, png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise GateError("a frame could not be encoded")
        disk.write_new(self._folder(current), name, png.tobytes())
        current.written.add(name)

    def _write_files(self, current: _Current, files: dict[str, bytes]) -> None:
        fd = self._folder(current)
        for name, content in files.items():
            disk.write_new(fd, name, content)
            current.written.add(name)

    def _write_manifest(self, current: _Current, manifest: dict[str, Any]) -> None:
        frames = [f for f in manifest["frames"] if f["file"] in current.written]
        lost = len(manifest["frames"]) - len(frames)  # their writes failed: not listed
        manifest = {**manifest, "frames": frames,
                    "frames_not_recorded": manifest["frames_not_recorded"] + lost}  # fmt: skip
        chip = (manifest["document"] or {}).get("chip")
        if chip is not None:  # a chip file whose write failed is not listed either
            chip["files"] = {k: v for k, v in chip["files"].items() if v in current.written}
        try:
            fd = self._folder(current)
            disk.publish(fd, disk.TRANSACTION_FILE, _json(manifest))
            self.recorded += 1
        finally:
            fd = self._folders.pop(current.name, -1)
            if fd >= 0:
                os.close(fd)

    def _failed(self, current: _Current, why: str) -> None:
        self.failures += 1
        log.warning("recording: a transaction was not recorded (%s)", why)

    # -- life cycle -------------------------------------------------------------------------------
    def on_close(self, undo: Callable[[], None]) -> None:
        self._detach.append(undo)

    def close(self) -> None:
        """Detach from the lane, write what is queued, release the folder."""
        while self._detach:
            self._detach.pop()()
        self._jobs.put(None)
        self._writer.join(30.0)
        for fd in self._folders.values():
            os.close(fd)
        self._folders.clear()
        if self._root >= 0:
            os.close(self._root)
            self._root = -1

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_folder(settings: RecordSettings) -> None:
    """Make and claim the recording folder now (before any device opens): ``InputError``
    in one line when it cannot be recorded into."""
    root = disk.open_folder(settings.folder)
    try:
        claim(root, settings)
    finally:
        os.close(root)


def claim(root: int, settings: RecordSettings) -> None:
    """The folder's manifest: written when new, else its version checked."""
    manifest = {
        "format": disk.FORMAT,
        "format_version": disk.FORMAT_VERSION,
        "producer": settings.producer,
        "personal_data": True,
    }
    where = disk.shown(settings.folder)
    try:
        if disk.publish(root, disk.MANIFEST, _json(manifest)):
            return
        found = json.loads(disk.read_small(root, disk.MANIFEST, 65536))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot use the recording folder {where}: {exc}") from exc
    version = found.get("format_version") if isinstance(found, dict) else None
    if version != disk.FORMAT_VERSION:
        raise InputError(
            f"cannot record into {where}: it holds format_version {version!r}, this egate "
            f"writes {disk.FORMAT_VERSION} (record into another folder)"
        )


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=1, allow_nan=False) + "\n").encode("utf-8")
