"""``egate bench soak --kiosk``: ``egate run`` as its own process, on emulated devices, watched
for leaks from outside.

The devices are the ones an integrator tests a kiosk with: the gatectl turnstile emulator on
a pty (this process walks each traveller out as soon as the exit is open), the MJPEG camera
emulator on 127.0.0.1 showing the traveller, pcscd with vpcd holding the traveller's virtual
passport, and the printed MRZ written line by line into a FIFO the lane reads
(``reader.mrz_source``). One MRZ is written when the lane is idle, the next once the
traveller has walked out and the exit has closed again.

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

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.optional import progress
from bench.soak import slope_per_100

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CAMERA_FPS = 30.0  # a kiosk camera's pace (the MJPEG emulator's own default is 15)
LANE_START_S = 120.0  # the lane loads its face pack and opens its devices
TRAVELLER_S = 60.0  # the most one traveller may take, MRZ to exit closed


@dataclass(frozen=True)
class ProcessSample:
    """The lane process after ``traveller`` travellers (0: before the first)."""

    traveller: int
    open_fds: int
    pcscd_sockets: int
    threads: int
    rss_mb: float


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
    feed.show(list(TravellerScene(photo=portrait, kind="genuine", seed=1).images()))
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
        yield KioskDevices(config, "\n".join(issued.mrz.lines), emulator)


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
    approach_s: float = 0.0,
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
            time.sleep(approach_s)  # at the camera before the scan: the lane's pre-roll
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


# The kiosk path in order (``stage_ms`` of the audit rows): the scan noticed, the chip read
# and the chip photo enrolled while the capture runs (``capture`` is what is left of it to
# wait for, ``capture.total`` the capture itself), the decision, the exit's travel.
STAGE_ORDER = (
    "mrz_to_start",
    "document",
    "enrol",
    "capture",
    "capture.total",
    "capture.read",
    "capture.embed",
    "capture.liveness",
    "verify",
    "decision_to_command",
    "document_to_exit_command",
    "exit_open",
)


def stage_breakdown(results: list[dict[str, Any]], written_at: list[float]) -> dict[str, float]:
    """Median milliseconds of each stage of the accepted travellers (the lane's own
    ``stage_ms``), plus ``mrz_to_start``: from the MRZ written to the transaction started
    (the idle lane noticing the scan and asking its devices). Results follow the MRZ lines
    in order: one traveller at a time."""
    per_stage: dict[str, list[float]] = {}
    for row, written in zip(results, written_at, strict=False):
        if row["outcome"] != "ACCEPT":
            continue
        stages = {str(k): float(v) for k, v in json.loads(str(row["stage_ms"])).items()}
        stages["mrz_to_start"] = (float(str(row["started_at"])) - written) * 1000.0
        for name, value in stages.items():
            per_stage.setdefault(name, []).append(value)
    return {name: round(statistics.median(v), 1) for name, v in sorted(per_stage.items())}


# Milestones of an accepted traveller, in ms after the MRZ was written; the capture runs
# from the transaction's start (``egate run`` captures with the chip read).
TIMELINE = (
    ("started", ("mrz_to_start",)),
    ("chip_read_done", ("mrz_to_start", "document")),
    ("capture_done", ("mrz_to_start", "capture.total")),
    ("decided", ("mrz_to_start", "document_to_exit_command", "-decision_to_command")),
    ("exit_commanded", ("mrz_to_start", "document_to_exit_command")),
    ("exit_open_seen", ("mrz_to_start", "document_to_exit_command", "exit_open")),
)


def kiosk_timeline(results: list[dict[str, Any]], written_at: list[float]) -> dict[str, float]:
    """The median of each milestone (``TIMELINE``) over the accepted travellers."""
    per: dict[str, list[float]] = {}
    for row, written in zip(results, written_at, strict=False):
        if row["outcome"] != "ACCEPT":
            continue
        stages = {str(k): float(v) for k, v in json.loads(str(row["stage_ms"])).items()}
        stages["mrz_to_start"] = (float(str(row["started_at"])) - written) * 1000.0
        for name, parts in TIMELINE:
            keys = [part.lstrip("-") for part in parts]
            if all(key in stages for key in keys):
                signs = [-1.0 if part.startswith("-") else 1.0 for part in parts]
                total = sum(sign * stages[key] for sign, key in zip(signs, keys, strict=True))
                per.setdefault(name, []).append(total)
    return {name: round(statistics.median(per[name]), 1) for name, _ in TIMELINE if name in per}


def _spread(values: list[float]) -> dict[str, float | None]:
    """Median, min, max and the quartiles and 90th percentile (seconds, to the ms)."""
    if not values:
        return {k: None for k in ("median", "min", "p25", "p75", "p90", "max")}
    cuts = statistics.quantiles(values, n=20) if len(values) > 1 else [values[0]] * 19
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "p25": round(cuts[4], 3),
        "p75": round(cuts[14], 3),
        "p90": round(cuts[17], 3),
        "max": round(max(values), 3),
    }


def summarise_kiosk(
    samples: list[ProcessSample],
    decisions: list[str],
    travellers: int,
    mrz_to_exit_open: list[float],
) -> dict[str, Any]:
    tail = samples[len(samples) // 2 :]
    xs = [float(s.traveller) for s in tail]
    measures: dict[str, Any] = {}
    for name in ("open_fds", "pcscd_sockets", "threads", "rss_mb"):
        values = [float(getattr(s, name)) for s in samples]
        measures[name] = {
            "start": values[0] if values else None,
            "after_first": values[1] if len(values) > 1 else None,
            "end": values[-1] if values else None,
            "max": max(values) if values else None,
            "slope_per_100_travellers": round(
                slope_per_100(xs, [float(getattr(s, name)) for s in tail]), 3
            ),
        }
    expected = sum(d == "ACCEPT" for d in decisions)
    return {
        "mode": "kiosk",
        "travellers": travellers,
        "as_expected": expected,
        "share_as_expected": expected / travellers if travellers else 0.0,
        "decisions": {d: decisions.count(d) for d in sorted(set(decisions))},
        "measures": measures,
        "mrz_to_exit_open_s": _spread(mrz_to_exit_open),
        "samples": [s.__dict__ for s in samples],
    }


def _load_line(report: dict[str, Any]) -> list[str]:
    load = report.get("load_average")
    if not load:
        return []
    start, end = (" / ".join(f"{x:.2f}" for x in load[k]) for k in ("start", "end"))
    return [f"Load average (1/5/15 min) at the start {start}, at the end {end}"]


def kiosk_markdown(report: dict[str, Any]) -> str:
    timing = report["mrz_to_exit_open_s"]
    lines = [
        f"# Kiosk soak: {report['travellers']} travellers through `egate run`",
        "",
        f"Outcomes as expected (ACCEPT): {report['as_expected']}/{report['travellers']}; "
        f"lane exit code {report['exit_code']}; audit chain "
        f"{'intact' if report['audit_chain_ok'] else 'BROKEN'}",
        f"MRZ to exit open: median {timing['median']} s (min {timing['min']}, "
        f"p25 {timing.get('p25')}, p75 {timing.get('p75')}, p90 {timing.get('p90')}, "
        f"max {timing['max']}); at the camera {report.get('approach_s', 0):g} s before the scan",
        *_load_line(report),
        "",
        "| lane process | start | after 1st | end | max | slope per 100 (2nd half) |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in report["measures"].items():
        lines.append(
            f"| {name} | {m['start']} | {m['after_first']} | {m['end']} | {m['max']} | "
            f"{m['slope_per_100_travellers']:+.3f} |"
        )
    stages = report.get("stages_ms") or {}
    if stages:
        lines += ["", "| stage of an accepted traveller (median) | ms |", "|---|---|"]
        lines += [f"| {name} | {stages[name]} |" for name in STAGE_ORDER if name in stages]
    timeline = report.get("timeline_ms") or {}
    if timeline:
        lines += ["", "| kiosk path (median, after the MRZ written) | ms |", "|---|---|"]
        lines += [f"| {name} | {timeline[name]} |" for name, _ in TIMELINE if name in timeline]
    return "\n".join(lines) + "\n"
