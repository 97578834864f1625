"""pcscd dies under egate: the daemon egate started is restarted, someone else's is waited
for, and a card is read again afterwards. Each case runs in its own mount and network
namespaces (``tests.drivers.chip.isolated``), so the pcscd killed is one nobody else uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gate.simulate.issue import IssuedPassport
from tests.drivers.chip.isolated import isolated, isolated_env

pytestmark = pytest.mark.pcsc

# Runs inside the namespaces: argv[1] is the passport folder, argv[2] "ours" or "theirs".
SCRIPT = """
import json, os, select, signal, subprocess, sys
from pathlib import Path
from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcsc import PcscTransport
from drivers.chip.pcscd import PcscDaemon, list_readers
from drivers.chip.vpcd import VpcdCardLink
from gate.icao.mrz import access_mrz
from gate.icao.reader import read_passport

folder, whose = Path(sys.argv[1]), sys.argv[2]
mrz = access_mrz("X1234567", "560709", "341231")

def read():
    with VpcdCardLink(load_passport_folder(folder)) as link:
        transport = PcscTransport(link.reader_name, timeout=5)
        try:
            return read_passport(transport, mrz, None, read_photo=False).dg1.document_number
        finally:
            transport.close()

def kill(pid):
    pidfd = os.pidfd_open(pid)
    os.kill(pid, signal.SIGKILL)
    select.select([pidfd], [], [])  # readable once the process has exited
    os.close(pidfd)

def foreign_pcscd():
    return subprocess.Popen(["pcscd", "--foreground"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

def until_listed():  # pcscd offers no readiness signal: poll the condition itself
    import time
    deadline = time.monotonic() + 20
    while not list_readers() and time.monotonic() < deadline:
        time.sleep(0.02)

out = {}
theirs = None
if whose == "theirs":
    theirs = foreign_pcscd()
    until_listed()  # else egate would start its own beside it
daemon = PcscDaemon()
first = daemon.start()
out["first_started_here"] = first.started_here
out["read_before"] = read()
link = VpcdCardLink(load_passport_folder(folder)).start()
transport = PcscTransport(link.reader_name, timeout=5)
transport.connect()
kill(first.pid if whose == "ours" else theirs.pid)
if theirs is not None:
    # Reap it as its owner would: a zombie keeps its pid, and pcscd refuses to start while
    # the pid in its pid file is taken ("Another pcscd seems to be running").
    theirs.wait()
out["readers_after_kill"] = list_readers()
try:  # a SELECT on the connected card, its daemon gone
    transport.transmit(bytes.fromhex("00A4040C07A0000002471001"))
    out["transmit_after_kill"] = "answered"
except Exception as exc:
    out["transmit_after_kill"] = [type(exc).__name__, str(exc)]
transport.close()
link.stop()
if whose == "theirs":
    # egate notices and says it waits; only then does the owner bring its daemon back.
    import logging, threading
    waiting = threading.Event()
    class Said(logging.Handler):
        def emit(self, record):
            if "waiting up to" in record.getMessage():
                waiting.set()
    logging.getLogger("drivers.chip.pcscd").addHandler(Said())
    ensured = []
    worker = threading.Thread(target=lambda: ensured.append(daemon.ensure()))
    worker.start()
    out["said_it_waits"] = waiting.wait(30)
    theirs = foreign_pcscd()
    worker.join()
    second = ensured[0]
else:
    second = daemon.ensure()
out["second_started_here"] = second.started_here
out["restarts"] = daemon.restarts
out["new_pid"] = second.pid != first.pid
out["read_after"] = read()
daemon.close()
out["stopped_at_close"] = list_readers() == []
if theirs is not None:
    theirs.terminate()
    theirs.wait()
print(json.dumps(out))
"""


def _run_isolated(passport: IssuedPassport, whose: str, tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        isolated([sys.executable, "-c", SCRIPT, str(passport.folder), whose]),
        env=isolated_env(tmp_path / "runtime"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.pcsc_isolated
def test_the_pcscd_egate_started_is_restarted(passport: IssuedPassport, tmp_path: Path) -> None:
    out = _run_isolated(passport, "ours", tmp_path)
    assert out["first_started_here"] is True
    assert out["read_before"] == "X1234567"
    assert out["readers_after_kill"] == []
    kind, message = out["transmit_after_kill"]
    assert kind == "DeviceError" and "pcscd stopped" in message  # not "card removed"
    assert out["second_started_here"] is True and out["new_pid"] is True
    assert out["restarts"] == 1
    assert out["read_after"] == "X1234567"
    assert out["stopped_at_close"] is True  # nobody else used it: stopped


@pytest.mark.pcsc_isolated
def test_someone_elses_pcscd_is_waited_for(passport: IssuedPassport, tmp_path: Path) -> None:
    out = _run_isolated(passport, "theirs", tmp_path)
    assert out["first_started_here"] is False
    assert out["read_before"] == "X1234567"
    assert out["readers_after_kill"] == []
    # Its owner restarted it while egate waited: reused, not a second daemon of egate's.
    assert out["said_it_waits"] is True
    assert out["second_started_here"] is False and out["restarts"] == 0
    assert out["read_after"] == "X1234567"
    assert out["stopped_at_close"] is False  # not egate's to stop
