"""Round-trip properties of the three wire protocols, and their decoders on garbage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.turnstile import gatectl as g
from drivers.turnstile import lcus
from drivers.turnstile import modbus as mb
from gate.errors import ConfigError, DeviceError, ProtocolError

frames = st.builds(
    g.Frame,
    seq=st.integers(0, 255),
    command=st.integers(0, 255),
    payload=st.binary(max_size=g.MAX_PAYLOAD),
)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(st.lists(frames, max_size=5), st.lists(st.integers(0, 10_000), max_size=8))
def test_gatectl_frames_round_trip_whatever_the_chunking(
    sent: list[g.Frame], cuts: list[int]
) -> None:
    wire = b"".join(f.encode() for f in sent)
    decoder = g.FrameDecoder()
    got = [f for chunk in _chunks(wire, cuts) for f in decoder.feed(chunk)]
    assert got == sent
    assert decoder.discarded == 0


@given(st.binary(max_size=300), frames)
def test_gatectl_decoder_resynchronises_after_garbage(garbage: bytes, frame: g.Frame) -> None:
    decoder = g.FrameDecoder()
    # garbage may end in a partial frame header; a full frame after a pause of silence
    # (what the driver's retry gives) must come through
    decoder.feed(garbage)
    got = decoder.feed(frame.encode() + frame.encode())
    assert frame in got


@given(st.binary(max_size=2000))
def test_gatectl_decoder_never_raises_on_noise(noise: bytes) -> None:
    decoder = g.FrameDecoder()
    for frame in decoder.feed(noise):
        assert frame.encode()[2:-2] in noise  # only frames really on the line, CRC checked


def test_gatectl_crc_error_is_counted_and_skipped() -> None:
    good = g.Frame(7, g.Command.ACK, b"\x01").encode()
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    decoder = g.FrameDecoder()
    assert decoder.feed(bytes(bad) + good) == [g.Frame(7, g.Command.ACK, b"\x01")]
    assert decoder.crc_errors == 1


def test_gatectl_rejects_unencodable_frames() -> None:
    with pytest.raises(ProtocolError, match="payload"):
        g.Frame(1, 2, bytes(g.MAX_PAYLOAD + 1)).encode()
    with pytest.raises(ProtocolError, match="sequence"):
        g.Frame(256, 2).encode()


@given(
    st.sampled_from(list(g.StateCode)),
    st.sampled_from(list(g.StateCode)),
    st.integers(0, 255),
    st.integers(0, 8),
    st.integers(0, 255),
)
def test_gatectl_status_payload_round_trip(
    a: g.StateCode, b: g.StateCode, beams: int, count: int, flags: int
) -> None:
    payload = g.StatusPayload(a, b, beams, count, flags)
    assert g.StatusPayload.decode(payload.encode()) == payload


@given(st.sampled_from(list(g.EventCode)), st.sampled_from(list(g.DoorCode)), st.integers(0, 255))
def test_gatectl_event_payload_round_trip(code: g.EventCode, door: g.DoorCode, beams: int) -> None:
    ev = g.EventPayload(code, door, beams)
    assert g.EventPayload.decode(ev.encode()) == ev


def test_gatectl_payload_decoders_name_the_problem() -> None:
    with pytest.raises(ProtocolError, match="status payload has 2 bytes"):
        g.StatusPayload.decode(b"\x00\x00")
    with pytest.raises(ProtocolError, match="unknown event"):
        g.EventPayload.decode(b"\xee\x00\x00")


relay_commands = st.builds(
    lcus.RelayCommand, channel=st.integers(1, lcus.MAX_CHANNEL), on=st.booleans()
)


@given(st.lists(relay_commands, max_size=10), st.binary(max_size=40))
def test_lcus_commands_round_trip_after_garbage(
    cmds: list[lcus.RelayCommand], garbage: bytes
) -> None:
    decoder = lcus.RelayDecoder()
    # the board skips garbage; a frame right after it still comes through once the
    # garbage holds no header byte that could swallow it
    garbage = garbage.replace(bytes((lcus.HEADER,)), b"")
    got = decoder.feed(garbage + b"".join(c.encode() for c in cmds))
    assert got == cmds


def test_lcus_frame_bytes_match_the_board_documentation() -> None:
    assert lcus.RelayCommand(1, True).encode() == bytes.fromhex("A00101A2")
    assert lcus.RelayCommand(2, False).encode() == bytes.fromhex("A00200A2")
    with pytest.raises(ProtocolError, match="channel 9"):
        lcus.RelayCommand(9, True).encode()


@given(st.integers(1, 247), st.integers(0, 0xFFFF), st.booleans())
def test_modbus_write_coil_round_trip(unit: int, address: int, on: bool) -> None:
    client, server = mb.RtuCodec(is_server=False), mb.RtuCodec(is_server=True)
    request = mb.write_coil(unit, address, on)
    [got] = server.feed(client.encode(request))
    assert (got.dev_id, got.function_code, got.address, got.bits) == (unit, 5, address, [on])
    [reply] = client.feed(server.encode(mb.reply_write(got)))
    assert mb.check_reply(request, reply) is reply


@given(
    st.integers(1, 247),
    st.integers(0, 1000),
    st.lists(st.booleans(), min_size=1, max_size=64),
    st.binary(max_size=30),
)
def test_modbus_read_inputs_round_trip_after_noise(
    unit: int, address: int, bits: list[bool], noise: bytes
) -> None:
    client, server = mb.RtuCodec(is_server=False), mb.RtuCodec(is_server=True)
    request = mb.read_inputs(unit, address, len(bits))
    [got] = server.feed(client.encode(request))
    assert (got.address, got.count) == (address, len(bits))
    replies = client.feed(noise + server.encode(mb.reply_bits(got, bits)))
    assert replies, "a good reply after line noise must be found"
    reply = mb.check_reply(request, replies[-1])
    assert list(reply.bits[: len(bits)]) == bits


def test_modbus_exception_reply_is_a_refusal_naming_the_exception() -> None:
    client, server = mb.RtuCodec(), mb.RtuCodec(is_server=True)
    request = mb.read_inputs(1, 0, 6)
    [got] = server.feed(client.encode(request))
    [reply] = client.feed(server.encode(mb.reply_exception(got, 2)))
    with pytest.raises(DeviceError, match=r"exception code 2 \(illegal data address\)") as err:
        mb.check_reply(request, reply)
    assert not isinstance(err.value, ProtocolError)  # the module answered: it refused


def test_modbus_exception_for_another_function_is_a_protocol_error() -> None:
    client = mb.RtuCodec()
    request = mb.read_inputs(1, 0, 6)
    wire = mb.RtuCodec(is_server=True).encode(mb.exception_reply(1, mb.WRITE_SINGLE_COIL, 2))
    [reply] = client.feed(wire)
    with pytest.raises(ProtocolError, match="does not answer"):
        mb.check_reply(request, reply)


def test_modbus_map_from_options_and_errors() -> None:
    m = mb.ModbusMap.from_options({"unit": "3", "beam_inputs": "8,9", "emergency_input": "none"})
    assert (m.unit, m.beam_inputs, m.emergency_input) == (3, (8, 9), None)
    assert m.input_span == (0, 10)
    with pytest.raises(ConfigError, match="unknown address option 'colour'"):
        mb.ModbusMap.from_options({"colour": "red"})
    with pytest.raises(ConfigError, match="overlap"):
        mb.ModbusMap(beam_inputs=(0,))


@settings(max_examples=50)
@given(st.binary(max_size=600))
def test_modbus_codec_never_raises_on_noise(noise: bytes) -> None:
    codec = mb.RtuCodec(is_server=False)
    codec.feed(noise)
    assert codec.pending <= 2 * 264


def test_gatectl_doc_examples_hold() -> None:
    """docs/gatectl.md quotes the CRC check value and an example frame."""
    assert g.crc16(b"123456789") == 0x29B1
    assert g.Frame(3, g.Command.OPEN, b"\x02").encode() == bytes.fromhex("A55A030310 02657D")
