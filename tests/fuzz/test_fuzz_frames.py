"""Serial frames from a hostile or broken door controller, with good CRCs: what reaches the
payload decoders is exactly what random noise almost never gets to (tests/drivers/turnstile/
test_protocols.py feeds the decoders noise; this fuzzer frames the junk correctly first).
Only ``GateError`` subclasses may come out, or a decoded value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.turnstile import gatectl as g
from gate.errors import GateError
from tests.fuzz.profile import fuzz_settings, time_limit

frames = st.builds(
    g.Frame,
    seq=st.integers(0, 255),
    command=st.one_of(st.sampled_from(list(g.Command)), st.integers(0, 255)),
    payload=st.binary(max_size=g.MAX_PAYLOAD),
)


@pytest.mark.timeout(time_limit(300, 120))
@fuzz_settings(300)
@given(st.lists(frames, max_size=6), st.binary(max_size=64))
def test_gatectl_well_framed_junk_payloads(sent: list[g.Frame], noise: bytes) -> None:
    decoder = g.FrameDecoder()
    for frame in decoder.feed(noise + b"".join(f.encode() for f in sent)):
        for decode in (g.StatusPayload.decode, g.EventPayload.decode):
            try:
                decoded = decode(frame.payload)
            except GateError:
                continue
            assert decoded.encode() == frame.payload


@st.composite
def modbus_frame(draw: st.DrawFn) -> bytes:
    """A frame with a good CRC around a unit, a function code and random data."""
    from pymodbus.framer import FramerRTU

    function = draw(st.one_of(st.sampled_from([1, 2, 5, 0x81, 0x82, 0x85]), st.integers(0, 255)))
    data = draw(st.one_of(st.binary(max_size=8), st.binary(max_size=260)))
    body = bytes([draw(st.integers(0, 255)), function]) + data
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


@pytest.mark.timeout(time_limit(300, 120))
@fuzz_settings(300)
@given(st.lists(modbus_frame(), max_size=4), st.binary(max_size=32), st.integers(1, 247))
def test_modbus_client_checks_hostile_replies(
    replies: list[bytes], noise: bytes, unit: int
) -> None:
    pytest.importorskip("pymodbus", reason="the 'modbus' extra is not installed")
    from drivers.turnstile import modbus as mb

    codec = mb.RtuCodec(is_server=False)
    try:
        got = codec.feed(noise + b"".join(replies))
    except GateError:
        return
    for request in (mb.read_inputs(unit, 0, 6), mb.write_coil(unit, 3, True)):
        for reply in got:
            try:
                mb.check_reply(request, reply)
            except GateError:
                continue


@pytest.mark.timeout(time_limit(300, 120))
@fuzz_settings(300)
@given(st.lists(modbus_frame(), max_size=4), st.binary(max_size=32))
def test_modbus_server_decodes_hostile_requests(requests: list[bytes], noise: bytes) -> None:
    pytest.importorskip("pymodbus", reason="the 'modbus' extra is not installed")
    from drivers.turnstile import modbus as mb

    decoder = mb.RequestDecoder()
    for request in decoder.feed(noise + b"".join(requests)):
        try:
            address, value = request.words()
        except GateError:
            continue
        assert 0 <= address <= 0xFFFF and 0 <= value <= 0xFFFF
