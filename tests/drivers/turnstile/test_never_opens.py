"""Property: whatever arrives on the line, a driver never opens a door it was not asked to.

The drivers run their real threads against an in-memory port whose device side answers
correctly but mixes arbitrary bytes and well-formed-but-hostile frames into the line.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.turnstile import gatectl as g
from drivers.turnstile import lcus
from drivers.turnstile import modbus as mb
from drivers.turnstile.gatectl_driver import GatectlTurnstile
from drivers.turnstile.lcus_driver import LcusTurnstile
from drivers.turnstile.modbus_driver import ModbusTurnstile
from gate.errors import GateError
from gate.turnstile import Turnstile


class HostilePort:
    """A pyserial-like port: ``respond`` answers what the driver writes, and one chunk of
    ``junk`` is put on the line before every answer and on every idle read."""

    def __init__(self, respond: Callable[[bytes], bytes], junk: list[bytes]) -> None:
        self.timeout = 0.01
        self.written: list[bytes] = []
        self._respond = respond
        self._junk = list(junk)
        self._inbox = bytearray()
        self._cv = threading.Condition()

    def _next_junk(self) -> bytes:
        return self._junk.pop(0) if self._junk else b""

    def write(self, data: bytes) -> int:
        with self._cv:
            self.written.append(bytes(data))
            self._inbox += self._next_junk() + self._respond(bytes(data))
            self._cv.notify_all()
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        return len(self._inbox)

    def read(self, size: int = 1) -> bytes:
        with self._cv:
            if not self._inbox:
                self._inbox += self._next_junk()
            if not self._inbox and self.timeout:
                self._cv.wait(self.timeout)
            out = bytes(self._inbox[:size])
            del self._inbox[:size]
            return out

    def close(self) -> None:
        pass


def gatectl_device() -> Callable[[bytes], bytes]:
    decoder = g.FrameDecoder()
    status = g.StatusPayload(g.StateCode.CLOSED, g.StateCode.CLOSED, 0, 3, 0).encode()

    def respond(data: bytes) -> bytes:
        out = b""
        for f in decoder.feed(data):
            if f.command == g.Command.ACK:
                continue
            payload = status if f.command == g.Command.STATUS else b""
            out += g.Frame(f.seq, g.Command.ACK, payload).encode()
        return out

    return respond


def modbus_device() -> Callable[[bytes], bytes]:
    codec = mb.RtuCodec(is_server=True)

    def respond(data: bytes) -> bytes:
        out = b""
        for req in codec.feed(data):
            if req.function_code == mb.WRITE_SINGLE_COIL:
                out += codec.encode(mb.reply_write(req))
            else:
                out += codec.encode(mb.reply_bits(req, [True, True] + [False] * (req.count - 2)))
        return out

    return respond


hostile_frames = st.builds(
    g.Frame,
    seq=st.integers(0, 255),
    command=st.sampled_from([*list(g.Command), 0x00, 0xFF]),
    payload=st.binary(max_size=6),
).map(lambda f: f.encode())
junk = st.lists(
    st.one_of(st.binary(max_size=64), hostile_frames, st.just(lcus.RelayCommand(2, True).encode())),
    max_size=12,
)


def exercise(driver: Turnstile) -> None:
    time.sleep(0.03)  # heartbeats and polls meet the junk
    for call in (driver.status, driver.lock, driver.status):
        with contextlib.suppress(GateError):  # refusing or timing out is fine; opening is not
            call(0.3)  # type: ignore[operator]
    while driver.next_event(0) is not None:
        pass


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(junk)
def test_gatectl_driver_never_sends_open(chunks: list[bytes]) -> None:
    port = HostilePort(gatectl_device(), chunks)
    try:
        driver = GatectlTurnstile(lambda: port, url="hostile", heartbeat=0.01, ack_timeout=0.02)
    except GateError:
        driver = None  # the junk kept it from connecting: nothing was opened either
    if driver is not None:
        exercise(driver)
        driver.close()
    sent = g.FrameDecoder().feed(b"".join(port.written))
    assert sent, "the driver must at least have tried to lock"
    assert all(f.command != g.Command.OPEN for f in sent)


@FAST
@given(junk)
def test_modbus_driver_never_switches_a_coil_on(chunks: list[bytes]) -> None:
    port = HostilePort(modbus_device(), chunks)
    try:
        driver = ModbusTurnstile(lambda: port, url="hostile", poll=0.005, reply_timeout=0.02)
    except GateError:
        driver = None
    if driver is not None:
        exercise(driver)
        driver.close()
    requests = mb.RtuCodec(is_server=True).feed(b"".join(port.written))
    writes = [r for r in requests if r.function_code == mb.WRITE_SINGLE_COIL]
    assert writes, "the driver must at least have switched the coils off"
    assert not any(r.bits[0] for r in writes)


@FAST
@given(junk)
def test_lcus_driver_never_switches_a_relay_on(chunks: list[bytes]) -> None:
    port = HostilePort(lambda data: b"", chunks)
    driver = LcusTurnstile(lambda: port, url="hostile", hold=0.01)
    exercise(driver)
    driver.close()
    cmds = lcus.RelayDecoder().feed(b"".join(port.written))
    assert cmds and not any(c.on for c in cmds)
