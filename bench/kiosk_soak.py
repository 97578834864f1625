"""``egate bench soak --kiosk``: ``egate run`` as its own process, on emulated devices, watched
for leaks from outside.

The devices are the ones an integrator tests a kiosk with: the gatectl turnstile emulator on
a pty (this process walks each traveller out as soon as the exit is open), the MJPEG camera
emulator on 127.0.0.1 showing the traveller, pcscd with vpcd holding the traveller's virtual
passport, and the printed MRZ written line by line into a FIFO the lane reads
(``reader.mrz_source``). Each traveller steps into the empty lane (the camera shows them from
the first frame of their approach), stands at the camera for ``approach_s`` (default 1 s)
while putting the passport down, and then the MRZ is written; once they have walked out and
the exit has closed again, the camera shows the empty lane until the next one steps in.

Sampled from ``/proc/PID`` of the lane process before the first traveller and after each
one: open file descriptors, Unix sockets to pcscd, threads and resident memory. The report
gives first/last values and the least-squares slope per 100 travellers over the second half
of the run (the first half includes the face engine's first use), how many travellers ended
as expected (every traveller is genuine: ACCEPT in the audit log), and the time from the
MRZ written to the exit door fully open (median and spread), with the median of each stage
and the path as a timeline: when, after the MRZ was written, the transaction started, the
chip read and the capture were done, the lane decided, commanded the exit and saw it open.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.kiosk_report import ProcessSample, kiosk_timeline, stage_breakdown, summarise_kiosk
from bench.optional import progress

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CAMERA_FPS = 30.0  # a kiosk camera's pace (the MJPEG emulator's own default is 15)
LANE_START_S = 120.0  # the lane loads its face pack and opens its devices
TRAVELLER_S = 60.0  # the most one traveller may take, MRZ to exit closed
APPROACH_S = 1.0  # at the camera, in the lane, before the passport is on the reader


def sample_process(pid: int, traveller: int) -> ProcessSample:
    from drivers.chip.pcscd import pcscd_sockets

    proc = Path(f"/proc/{pid}")
    threads = next(
        int(line.split()[1])
        for line in (proc / "status").read_text().splitlines()
        if line.startswith("Threads:")
    )
    return ProcessSample(
        traveller=traveller,
        open_fds=len(os.listdir(proc / "fd")),
        pcscd_sockets=pcscd_sockets(pid),
        threads=threads,
        rss_mb=int((proc / "statm").read_text().split()[1]) * PAGE_BYTES / 1e6,
    )


@dataclass(frozen=True)
class KioskDevices:
    config: Path
    mrz: str  # the traveller's printed MRZ, lines joined by newlines
    emulator: Any  # drivers.turnstile.emulator.EmulatorHandle
    feed: Any  # gate.simulate.lane.SceneFeed: what the camera shows
    traveller: tuple[Any, ...]  # the traveller's approach, frame by frame (BGR images)


@contextmanager
def kiosk_devices(
    work: Path, door_time_scale: float = 1.0, camera_fps: float = CAMERA_FPS
) -> Iterator[KioskDevices]:
    """The emulated kiosk: one genuine traveller's passport on a vpcd card, the turnstile
    emulator, the camera showing the traveller, a FIFO for the MRZ, and the config."""
    import cv2

    from drivers.camera.mjpeg_server import MjpegServer
    from drivers.camera.synthetic import TravellerScene
    from drivers.chip.passport_folder import load_passport_folder
    from drivers.chip.pcscd import ensure_pcscd
    from drivers.chip.vpcd import VpcdCardLink
    from drivers.turnstile.emulator import Physics, start_emulator
    from gate.simulate.faces import PhotoLibrary
    from gate.simulate.issue import issue_passport
    from gate.simulate.lane import SceneFeed
    from gate.simulate.pki import init_pki
    from models.engine import load_engine

    engine = load_engine(None)
    portrait = PhotoLibrary(lambda im: engine.analyze(im, min_face=40)).portrait("sample:t1.jpg#0")
    ok, jpeg = cv2.imencode(".jpg", portrait)
    if not ok:
        raise RuntimeError("could not encode the traveller's portrait")
    issued = issue_passport(
        work / "passport",
        pki=init_pki(work / "pki"),
        photo=bytes(jpeg),
        surname="SOAK",
        given_names="KIOSK",
        nationality="UTO",
        birth_date="900101",
        sex="F",
        expiry_date="351231",
        document_number="S0AK12345",
    )
    feed = SceneFeed()
    traveller = tuple(TravellerScene(photo=portrait, kind="genuine", seed=1).images())
    feed.show(traveller)
    fifo = work / "mrz.fifo"
    os.mkfifo(fifo, 0o600)
    with (
        ensure_pcscd(),
        start_emulator("gatectl", physics=Physics(time_scale=door_time_scale)) as emulator,
        MjpegServer(feed, fps=camera_fps) as camera,
        VpcdCardLink(load_passport_folder(work / "passport")) as link,
    ):
        config = work / "kiosk.toml"
        config.write_text(
            f"""[camera]
address = "{camera.url}"
[reader]
address = "pcsc:{link.reader_name}"
mrz_source = "{fifo}"
trust_store = "{work / "pki"}"
[turnstile]
address = "{emulator.address}"
[audit]
path = "{work / "audit.db"}"
""",
            encoding="utf-8",
        )
        yield KioskDevices(config, "\n".join(issued.mrz.lines), emulator, feed, traveller)


def _wait_in_service(log_path: Path, lane: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the lane logs that it is in service (the log is the lane's only signal)."""
    deadline = time.monotonic() + timeout
    while b" in service" not in log_path.read_bytes():
        if lane.poll() is not None:
            raise RuntimeError(f"egate run exited with {lane.returncode} before serving")
        if time.monotonic() > deadline:
            raise RuntimeError(f"egate run not in service within {timeout:.0f} s")
        time.sleep(0.1)


def run_kiosk_soak(
    travellers: int,
    *,
    door_time_scale: float = 1.0,
    show_progress: bool = False,
    approach_s: float = APPROACH_S,
) -> dict[str, Any]:
    """``travellers`` genuine travellers through one ``egate run`` process; the report."""
    from gate.turnstile import Door, DoorState

    samples: list[ProcessSample] = []
    mrz_to_exit_open: list[float] = []
    written_at: list[float] = []  # wall clock: the audit rows' started_at is wall time
    walked_out = 0
    load_start = os.getloadavg()  # timings mean little on a busy machine: say how busy
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="egate-soak-")))
        devices = stack.enter_context(kiosk_devices(work, door_time_scale))
        emulator = devices.emulator
        # Held open for writing all along: the lane never sees its source end.
        fifo = os.open(work / "mrz.fifo", os.O_RDWR)
        stack.callback(os.close, fifo)
        log_file = stack.enter_context((work / "lane.log").open("wb"))
        command = [sys.executable, "-m", "gate", "-v", "run", "--config", str(devices.config)]
        command += ["--max-travellers", str(travellers)]
        lane = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=work)
        stack.callback(_stop, lane)
        _wait_in_service(work / "lane.log", lane, LANE_START_S)
        samples.append(sample_process(lane.pid, 0))
        for index in progress(
            range(1, travellers + 1), desc="kiosk soak", unit="traveller", enabled=show_progress
        ):
            # The traveller steps into the empty lane, stands at the camera for approach_s
            # while putting the passport down, and the scanner reads the page.
            devices.feed.show(devices.traveller)
            time.sleep(approach_s)
            written = time.monotonic()
            written_at.append(time.time())
            os.write(fifo, (devices.mrz + "\n\n").encode("ascii"))
            if not emulator.wait_door(Door.EXIT, DoorState.OPEN, timeout=TRAVELLER_S):
                # Not let through (referred): the lane is idle again once its doors are shut.
                emulator.wait_door(Door.ENTRY, DoorState.CLOSED, timeout=TRAVELLER_S)
            else:
                mrz_to_exit_open.append(time.monotonic() - written)
                emulator.traveller_passes()
                walked_out += 1
                emulator.wait_door(Door.EXIT, DoorState.CLOSED, timeout=TRAVELLER_S)
            devices.feed.clear()  # gone: the lane is empty until the next one steps in
            if lane.poll() is not None:
                break
            samples.append(sample_process(lane.pid, index))
        try:
            code: int | None = lane.wait(timeout=TRAVELLER_S)
        except subprocess.TimeoutExpired:  # served its travellers but did not end
            _stop(lane)
            code = None
        decisions, chain_ok, results = _audit(work / "audit.db")
        log_tail = (work / "lane.log").read_text(errors="replace")[-2000:]
    report = summarise_kiosk(samples, decisions, travellers, mrz_to_exit_open)
    report["stages_ms"] = stage_breakdown(results, written_at)
    report["timeline_ms"] = kiosk_timeline(results, written_at)
    report.update(
        exit_code=code, walked_out=walked_out, audit_chain_ok=chain_ok, approach_s=approach_s
    )
    report["load_average"] = {"start": list(load_start), "end": list(os.getloadavg())}
    if report["as_expected"] < travellers:
        report["lane_log_tail"] = log_tail
    return report


def _stop(lane: subprocess.Popen[bytes]) -> None:
    if lane.poll() is None:
        lane.terminate()
        try:
            lane.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lane.kill()
            lane.wait()


def _audit(path: Path) -> tuple[list[str], bool, list[dict[str, Any]]]:
    """Each transaction's outcome in order (its result row: an ACCEPT decision whose
    passage then failed is not an accepted traveller), whether the chain verifies, and the
    result rows. A transaction with a decision and no result (the lane stopped in its
    passage) counts with its decision."""
    from gate.audit import AuditLog

    with AuditLog.open_readonly(path) as audit:
        entries = list(audit.entries())
        chain_ok = audit.verify().ok
    final: dict[str, str] = {}
    for entry in entries:
        if entry["kind"] == "result" or str(entry["transaction_id"]) not in final:
            final[str(entry["transaction_id"])] = str(entry["outcome"])
    results = [e for e in entries if e["kind"] == "result"]
    return list(final.values()), chain_ok, results
