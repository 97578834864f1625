"""``build_lane(config)``: the one place a lane is assembled from its configuration.

``egate run``, ``egate simulate``, the fault tests and the micro-benchmarks all build their
lanes here. Every port not handed in ready-made is opened from the config through the
device registries (turnstile, camera, chip reader) or built from the real components
(face engine and capture pipeline, ICAO reader with the trust store, SQLite audit log). The
lane owns what this function opened and closes it with ``Lane.close``; ports handed in stay
their owner's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from gate.clock import Clock, SystemClock
from gate.config import GateConfig, page_camera_address
from gate.errors import ConfigError, DeviceError
from gate.interfaces import Camera
from gate.lane.checks import watch_checks
from gate.lane.events import Observer
from gate.lane.machine import Lane
from gate.lane.ports import AuditSink, Biometrics, ChipReader, DocumentSource
from gate.outcome import State
from gate.turnstile import Turnstile

log = logging.getLogger("gate.lane")


def build_lane(
    config: GateConfig,
    *,
    clock: Clock | None = None,
    documents: DocumentSource | None = None,
    chip_reader: ChipReader | None = None,
    biometrics: Biometrics | None = None,
    camera: Camera | None = None,
    turnstile: Turnstile | None = None,
    audit: AuditSink | None = None,
    observers: tuple[Observer, ...] = (),
    tailgate_grace_s: float = 1.0,
    stdin: TextIO | None = None,
    real_time: bool = False,
) -> Lane:
    """Assemble a lane; the doors are locked and the lane idle when it returns.

    ``real_time`` (a kiosk, ``egate run``): the capture runs ahead, with the chip read
    (``gate.lane.capture_ahead``), and a second engine of the pack
    (``gate.lane.side_engine``) enrols the chip photo meanwhile."""
    clock = clock or SystemClock()
    with ExitStack() as opened:
        # The trust store first: a kiosk without one must not open any device.
        chip_reader = chip_reader or _chip_reader(config)
        biometrics = biometrics or _biometrics(config, real_time)
        if turnstile is None:
            from drivers.turnstile.registry import open_turnstile
            from gate.lane.service import ReopeningTurnstile

            address = config.turnstile.address
            # Missing at start-up: out of service until it answers (not exit 2).
            turnstile = ReopeningTurnstile(lambda: open_turnstile(address), f"turnstile {address}")
            opened.callback(turnstile.close)
        if camera is None:
            camera = lane_camera(config, clock)
            opened.callback(camera.close)
        if audit is None:
            from gate.audit import AuditLog, Checkpointing
            from gate.lane.adapters import AuditLogSink

            heads = Checkpointing(
                config.lane.name, config.audit.checkpoint_path, config.audit.checkpoint_every
            )
            audit_log = AuditLog.open(config.audit.path, config.audit.salt_path, heads)
            opened.callback(audit_log.close)
            audit = AuditLogSink(audit_log)
        guard = None
        if documents is None:
            from gate.lane.service import DeviceGuard

            documents, probes = _mrz_documents(config, stdin, opened, clock)
            guard = documents = DeviceGuard(
                documents, {"turnstile": _turnstile_probe(turnstile), **probes,
                            "camera": _camera_probe(camera)}
            )  # fmt: skip
        lane = Lane(
            documents=documents,
            chip_reader=chip_reader,
            biometrics=biometrics,
            camera=camera,
            turnstile=turnstile,
            clock=clock,
            audit=audit,
            policy=config.policy(),
            timeouts=config.timeouts,
            observers=observers,
            tailgate_grace_s=tailgate_grace_s,
        )
        lane.checks.use(watch_checks(config.checks), config.checks.time_limit_s)
        lane.capture_ahead.enabled = real_time
        lane.capture_ahead.watch_approach = real_time and config.camera.watch_approach
        if page_camera_address(config.reader.mrz_source) is not None and guard is not None:
            lane.document_stage.warm_up()  # the pages' OCR loaded before the first traveller
        if guard is not None:  # out of service and back: lane events for the console
            guard.emit = lane.announce
            opened.callback(guard.close)
        lane.start()
        lane.resources.push(opened.pop_all())
    return lane


def _chip_reader(config: GateConfig) -> ChipReader:
    from gate.icao.pa import TrustStore
    from gate.lane.adapters import PassportChipReader

    if config.reader.trust_store is None:
        raise ConfigError("reader.trust_store: required to run a kiosk (folder of CSCAs)")
    return PassportChipReader(TrustStore.from_folder(config.reader.trust_store))


def _biometrics(config: GateConfig, side_engine: bool) -> Biometrics:
    from gate.lane.adapters import engine_biometrics_loader
    from gate.lane.resilient import ResilientBiometrics

    camera = config.camera
    return ResilientBiometrics(
        engine_biometrics_loader(
            config.face.pack, camera.min_face, camera.best_shot_window_s, side_engine=side_engine
        )
    )


def lane_camera(config: GateConfig, clock: Clock) -> Camera:
    """The kiosk's camera for ``config.camera.address``, reopened when it fails."""
    return _camera_at(config.camera.address, clock, "camera")


def _camera_at(address: str, clock: Clock, what: str) -> Camera:
    from drivers.camera.registry import open_camera
    from gate.lane.resilient import ReopeningCamera

    return ReopeningCamera(
        lambda: open_camera(address, clock=clock, live=True), f"{what} {address}"
    )


def _mrz_documents(
    config: GateConfig, stdin: TextIO | None, opened: ExitStack, clock: Clock
) -> tuple[DocumentSource, dict[str, Callable[[], None]]]:
    """The page scanner's documents (MRZ lines, or pages seen by a camera), and the probes
    of the chip reader (where it has one) and of the page camera."""
    from drivers.chip.registry import open_reader
    from gate.lane.documents import MrzStreamDocuments
    from gate.lane.mrz_input import LineInput

    source = config.reader.mrz_source
    page_camera = page_camera_address(source)
    # Opened first: a source that cannot be opened is a config error before any device.
    lines: TextIO | LineInput | None = None
    if page_camera is None:
        lines = (
            (stdin if stdin is not None else LineInput(None))
            if source == "stdin"
            else LineInput(Path(source))
        )
    # One PC/SC context for the lane's life; each traveller's card awaited card_wait_s.
    connect = open_reader(config.reader.address, timeout=config.reader.card_wait_s)
    opened.callback(connect.close)
    probes: dict[str, Callable[[], None]] = {}
    documents: DocumentSource
    if page_camera is not None:
        from gate.lane.page_source import PageCameraDocuments

        camera = _camera_at(page_camera, clock, "page camera")
        pages = PageCameraDocuments(camera, connect)
        opened.callback(pages.close)
        documents, probes["page camera"] = pages, _camera_probe(camera)
    else:
        assert lines is not None
        stream = MrzStreamDocuments(lines, connect)
        opened.callback(stream.close)
        documents = stream
    check = getattr(connect, "check", None)  # PC/SC: does pcscd list the reader?
    if check is not None:
        probes["chip reader"] = check
    return documents, probes


def _turnstile_probe(turnstile: Turnstile) -> Callable[[], None]:
    from gate.lane.service import PROBE_TIMEOUT_S

    def probe() -> None:
        if not turnstile.status(PROBE_TIMEOUT_S).connected:
            raise DeviceError("not connected")

    return probe


def _camera_probe(camera: Camera) -> Callable[[], None]:
    from gate.lane.resilient import ReopeningCamera
    from gate.lane.service import PROBE_TIMEOUT_S

    def probe() -> None:
        if isinstance(camera, ReopeningCamera):  # its frame is kept for the capture
            camera.probe(PROBE_TIMEOUT_S)
        else:
            camera.read(PROBE_TIMEOUT_S)

    return probe


def serve(lane: Lane, name: str, stop: threading.Event, max_transactions: int | None = None) -> int:
    """Serve travellers until the documents end, ``max_transactions`` were served or
    ``stop`` is set. SIGTERM and SIGINT (on the main thread) stop the lane at once: the
    traveller in the lane is referred (REFER_DEVICE, recorded, doors locked), see
    ``gate.lane.stopping``. Returns how many travellers were served."""
    from gate.lane.sdnotify import Heartbeat, sd_notify
    from gate.lane.service import DeviceGuard
    from gate.lane.stopping import LaneStopping, stop_on_signals

    guard = lane.documents if isinstance(lane.documents, DeviceGuard) else None
    if guard is not None:  # the kiosk: systemd's watchdog hears from the idle loop and events
        heartbeat = Heartbeat()
        guard.heartbeat = heartbeat
        lane.add_observer(heartbeat)

    def busy() -> bool:  # a traveller in the lane, or devices being asked (seconds each)
        return lane.state is not State.IDLE or (guard is not None and not guard.in_service)

    served = 0
    with stop_on_signals(stop, busy):  # before "in service": a signal then is the lane's
        log.info("lane %s in service", name)
        sd_notify(f"READY=1\nSTATUS=lane {name} in service")
        try:
            served = lane.serve(stop, max_transactions)
        except (LaneStopping, KeyboardInterrupt) as exc:  # outside a transaction's stages
            lane.doors.fail_safe(None, str(exc) or "interrupted")
        if stop.is_set():
            log.warning("lane %s stopped by a signal", name)
    sd_notify("STOPPING=1")
    log.info("lane %s out of service after %d travellers", name, served)
    return served
