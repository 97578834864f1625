"""``egate run``: one kiosk lane on real devices, built from a ``GateConfig``.

The printed MRZ comes from the page scanner as text lines (``reader.mrz_source``: ``stdin``
or a file/FIFO the scanner software writes to); the chip is then read through the PC/SC
reader named by ``reader.address``. The lane serves travellers until SIGINT/SIGTERM.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from gate.config import GateConfig
from gate.controller_ports import PresentedDocument
from gate.errors import ConfigError, DocumentError
from gate.interfaces import ChipTransport

log = logging.getLogger(__name__)


class MrzStreamDocuments:
    """Documents announced by their printed MRZ on a text stream, one line per MRZ line.

    Lines are read in a background thread (a blocking ``readline`` must not stall the
    lane); a document is complete when the last 2 (TD3) or 3 (TD1) lines parse as an MRZ.
    """

    def __init__(self, stream: TextIO, transport: Callable[[], ChipTransport]) -> None:
        self._transport = transport
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._pending: list[str] = []
        self.ended = False
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: TextIO) -> None:
        for line in stream:
            self._lines.put(line.strip())
        self._lines.put(None)

    def wait_document(self, timeout: float) -> PresentedDocument | None:
        from gate.icao.mrz import parse_mrz

        if self.ended:
            return None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            self.ended = True  # the scanner's stream closed: no more documents will come
            return None
        if not line:
            self._pending.clear()
            return None
        self._pending = [*self._pending[-2:], line]
        for count in (3, 2):
            if len(self._pending) >= count:
                text = "\n".join(self._pending[-count:])
                try:
                    parse_mrz(text)
                except DocumentError:
                    continue
                self._pending.clear()
                return PresentedDocument(text, self._transport(), label="document")
        return None


def _pcsc_transport(address: str) -> Callable[[], ChipTransport]:
    if address != "pcsc" and not address.startswith("pcsc:"):
        raise ConfigError(f"reader.address {address!r}: expected 'pcsc' or 'pcsc:READER NAME'")
    name: str | int = address.partition(":")[2] or 0  # 0: the first reader

    def connect() -> ChipTransport:
        from drivers.chip.pcsc import PcscTransport

        transport: ChipTransport = PcscTransport(name)
        return transport

    return connect


def run_kiosk(
    config: GateConfig, max_transactions: int | None = None, stdin: TextIO | None = None
) -> int:
    from drivers.camera.sources import open_camera
    from drivers.turnstile.registry import open_turnstile
    from gate.audit import AuditLog
    from gate.clock import SystemClock
    from gate.controller import GateController
    from gate.controller_adapters import (
        AuditLogSink,
        PassportChipReader,
        engine_biometrics_loader,
    )
    from gate.controller_biometrics import ResilientBiometrics
    from gate.controller_camera import ReopeningCamera
    from gate.icao.pa import TrustStore

    if config.reader.trust_store is None:
        raise ConfigError("reader.trust_store: required to run a kiosk (folder of CSCAs)")
    trust = TrustStore.from_folder(config.reader.trust_store)
    closers: list[Callable[[], Any]] = []
    stop = threading.Event()
    try:
        biometrics = ResilientBiometrics(
            engine_biometrics_loader(
                config.face.pack, config.camera.min_face, config.camera.best_shot_window_s
            )
        )
        clock = SystemClock()
        turnstile = open_turnstile(config.turnstile.address)
        closers.append(turnstile.close)
        address = config.camera.address
        camera = ReopeningCamera(
            lambda: open_camera(address, clock=clock, live=True), f"camera {address}"
        )
        closers.append(camera.close)
        audit = AuditLog.open(config.audit.path, config.audit.salt_path)
        closers.append(audit.close)
        if config.reader.mrz_source == "stdin":
            stream: TextIO = stdin or sys.stdin
        else:
            try:
                stream = Path(config.reader.mrz_source).open(encoding="ascii")  # noqa: SIM115
            except OSError as exc:
                raise ConfigError(
                    f"reader.mrz_source: cannot open {config.reader.mrz_source}: {exc.strerror}"
                ) from exc
            closers.append(stream.close)
        documents = MrzStreamDocuments(stream, _pcsc_transport(config.reader.address))
        controller = GateController(
            documents=documents,
            chip_reader=PassportChipReader(trust),
            biometrics=biometrics,
            camera=camera,
            turnstile=turnstile,
            clock=clock,
            audit=AuditLogSink(audit),
            policy=config.policy(),
            timeouts=config.timeouts,
            observers=(_log_event,),
        )
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        controller.start()
        log.info("lane %s in service", config.lane.name)
        served = 0
        try:
            while not stop.is_set() and not documents.ended:
                if max_transactions is not None and served >= max_transactions:
                    break
                if controller.serve_one(config.timeouts.idle_poll_s) is not None:
                    served += 1
        except KeyboardInterrupt:
            pass
        log.info("lane %s out of service after %d travellers", config.lane.name, served)
        return 0
    finally:
        for close in reversed(closers):
            try:
                close()
            except Exception:
                log.exception("closing a device failed")


def _log_event(event: Any) -> None:
    if event.kind in ("decision", "alarm", "fail_safe", "error"):
        log.warning("%s %s %s", event.kind, event.transaction_id or "-", event.detail)
