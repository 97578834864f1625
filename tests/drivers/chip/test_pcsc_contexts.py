"""One PC/SC context per reader: a reader (what a ``pcsc:`` address opens) reads card after
card over one connection to pcscd, takes a new one only after pcscd came back, and says
what really happened when pcscd is not there or refuses a context. Runs in its own mount and
network namespaces (``tests.drivers.chip.isolated``): the pcscd stopped and limited is nobody
else's."""

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

SCRIPT = """
import json, os, subprocess, sys, time
from pathlib import Path
from smartcard import scard
from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcsc import PcscReader
from drivers.chip.pcscd import list_readers, pcscd_sockets
from drivers.chip.vpcd import VpcdCardLink
from gate.errors import DeviceError
from gate.icao.mrz import access_mrz
from gate.icao.reader import read_passport

folder = Path(sys.argv[1])
mrz = access_mrz("X1234567", "560709", "341231")
out = {}

def start(limit):
    daemon = subprocess.Popen(["pcscd", "--foreground", "-t", str(limit)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not list_readers():  # pcscd offers no readiness signal: poll the condition itself
        assert time.monotonic() < deadline, "pcscd listed no reader"
        time.sleep(0.02)
    return daemon

def stop(daemon):
    daemon.terminate()
    daemon.wait()

def read(reader):
    transport = reader()
    try:
        return read_passport(transport, mrz, None, read_photo=False).dg1.document_number
    finally:
        transport.close()

def error(call):
    try:
        call()
    except DeviceError as exc:
        return str(exc)
    return None

daemon = start(4)
link = VpcdCardLink(load_passport_folder(folder)).start()
reader = PcscReader(link.reader_name, timeout=5)
out["sockets_before"] = pcscd_sockets(os.getpid())
out["numbers"], out["sockets"] = [], []
for _ in range(10):  # more cards than pcscd -t 4 would allow contexts
    out["numbers"].append(read(reader))
    out["sockets"].append(pcscd_sockets(os.getpid()))
out["established"] = reader.context.established

link.stop()
stop(daemon)
out["gone_while_held"] = error(lambda: reader().connect())
out["gone"] = error(lambda: reader().connect())

daemon = start(2)
link = VpcdCardLink(load_passport_folder(folder)).start()
out["read_after_restart"] = read(reader)
out["established_after_restart"] = reader.context.established
# pcscd -t 2: the reader's context and this one are all it serves.
result, other = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
assert result == scard.SCARD_S_SUCCESS
third = PcscReader(link.reader_name, timeout=5)
out["over_the_limit"] = error(lambda: third().connect())
third.close()
scard.SCardReleaseContext(other)
reader.close()
out["sockets_after_close"] = pcscd_sockets(os.getpid())
link.stop()
stop(daemon)
print(json.dumps(out))
"""


def _run_isolated(passport: IssuedPassport, tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        isolated([sys.executable, "-c", SCRIPT, str(passport.folder)]),
        env=isolated_env(tmp_path / "runtime"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.pcsc_isolated
def test_one_context_per_reader_across_cards_and_pcscd_restarts(
    passport: IssuedPassport, tmp_path: Path
) -> None:
    out = _run_isolated(passport, tmp_path)
    assert out["sockets_before"] == 0  # the context is made when the first card is read
    assert out["numbers"] == ["X1234567"] * 10
    assert out["sockets"] == [1] * 10  # one connection to pcscd, whatever the card count
    assert out["established"] == 1
    # pcscd stopped: the held context fails with what happened, then is not pretended to.
    assert "pcscd stopped" in out["gone_while_held"]
    assert "pcscd is not running" in out["gone"] and "no daemon" not in out["gone"]
    # Back: one new context, and the reader reads again.
    assert out["read_after_restart"] == "X1234567"
    assert out["established_after_restart"] == 2
    # A running pcscd at its limit is not called absent.
    refused = out["over_the_limit"]
    assert "pcscd is running but refused a new context" in refused, refused
    assert out["sockets_after_close"] == 0
