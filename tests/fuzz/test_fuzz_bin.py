"""InsightFace ``.bin`` files, written by pickle and then damaged, or made of pickle opcodes
from scratch: ``load_dataset`` gives a dataset or an ``InputError`` naming the file, never
another exception, a huge allocation or a hang; and on every undamaged file the data-only
reader agrees with pickle itself."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.dataset_formats import load_dataset
from gate.errors import InputError
from tests.fuzz.profile import fuzz_settings, time_limit

blobs = st.lists(st.binary(max_size=24), max_size=6)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[object, int]:
    images = draw(blobs)
    if len(images) % 2:
        images.append(b"")
    if images and draw(st.booleans()):
        images[-1] = images[0]  # the same object twice: the memo refers back to it
    flags = draw(st.lists(st.booleans(), min_size=len(images) // 2, max_size=len(images) // 2))
    wrap = draw(st.sampled_from([tuple, list]))
    return wrap([images, flags]), draw(st.integers(0, 5))


@pytest.mark.timeout(time_limit(200, 120))
@fuzz_settings(200)
@given(payloads())
def test_reader_agrees_with_pickle_on_real_files(tmp_path: Path, made: tuple[object, int]) -> None:
    payload, protocol = made
    data = pickle.dumps(payload, protocol=protocol)
    path = tmp_path / "real.bin"
    path.write_bytes(data)
    images, flags = pickle.loads(data)
    if not flags:
        with pytest.raises(InputError):
            load_dataset(path)
        return
    dataset = load_dataset(path)
    assert dataset.same.tolist() == [bool(f) for f in flags]
    got = [
        dataset.images[i].data
        for pair in zip(dataset.left, dataset.right, strict=True)
        for i in pair
    ]
    assert got == [bytes(b) for b in images]


OPCODES = [b"(", b")", b"t", b"\x85", b"\x86", b"\x87", b"]", b"l", b"a", b"e", b"\x88", b"\x89",
           b"N", b"K\x01", b"J\xff\xff\xff\xff", b"I01\n", b"I2\n", b"I\xd9\xa3\n", b"q\x00",
           b"h\x00", b"j\xff\xff\xff\xff", b"\x94", b"p0\n", b"g0\n", b"C\x01x", b"U\x02ab",
           b"T\xff\xff\xff\xff", b"B\xff\xff\xff\x7f", b"\x8e" + (2**60).to_bytes(8, "little"),
           b"\x8d" + (2**62).to_bytes(8, "little"), b"\x8c\x07_codecs", b"\x8c\x06encode",
           b"\x8c\x06latin1", b"\x8c\x08builtins", b"\x8c\x05bytes", b"\x93", b"R",
           b"c_codecs\nencode\n", b"cposix\nsystem\n", b"V\xc3\xa9\n", b"S'a\\x00'\n", b"s",
           b"}", b"b", b"\x81", b"0", b"2", b"\x95" + (2**63).to_bytes(8, "little"), b"\x80\x05",
           b"\x80\x07"]  # fmt: skip


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        payload, protocol = draw(payloads())
        data = bytearray(pickle.dumps(payload, protocol=protocol))
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(["flip", "cut", "insert"]))
            if op == "flip" and at < len(data):
                data[at] ^= draw(st.integers(1, 255))
            elif op == "cut":
                del data[at:]
            else:
                data[at:at] = draw(st.sampled_from(OPCODES))
        return bytes(data)
    body = b"".join(draw(st.lists(st.sampled_from(OPCODES), max_size=30)))
    return b"\x80\x04" + body + draw(st.sampled_from([b".", b""]))


@pytest.mark.timeout(time_limit(400, 300))
@fuzz_settings(400)
@given(damaged())
def test_damaged_and_made_up_pickles(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.bin"
    path.write_bytes(data)
    try:
        dataset = load_dataset(path)
    except InputError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert dataset.pair_count >= 1
    assert all(isinstance(ref.data, bytes) for ref in dataset.images)


def test_reader_reads_a_stream_not_the_whole_file() -> None:
    """The reader takes a stream and a size: a declared length is checked against the size
    before anything is read (no 2**60-byte read is even attempted)."""
    from bench.insightface_bin import DataOnlyUnpickler

    class Watched(io.BytesIO):
        largest = 0

        def read(self, n: int | None = -1) -> bytes:
            Watched.largest = max(Watched.largest, n or 0)
            return super().read(n)

    data = b"\x80\x04\x8e" + (2**60).to_bytes(8, "little") + b"x" * 100
    with pytest.raises(InputError, match="needs 1152921504606846976 more bytes"):
        DataOnlyUnpickler(Watched(data), len(data)).load()
    assert Watched.largest <= 8
