"""The six chip CLI bugs an independent reader found, each pinned by a test."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.chip.emulator import MAX_READ
from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcsc import PcscTransport
from gate.cli import EXIT_ERROR, main
from gate.errors import DocumentError, ProtocolError
from gate.icao import lds
from gate.icao.reader import TrustStore, read_passport
from gate.simulate.issue import IssuedPassport, issue_passport
from gate.simulate.pki import TestPki
from tests.gate.icao.passports import HOLDER


@pytest.mark.parametrize("chunk", ["0", "-5"])
def test_chunk_zero_or_negative_is_refused_not_looped(
    chunk: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["chip", "read", "--number", "X1", "--birth", "560709", "--expiry", "341231"]
    assert main([*args, "--chunk", chunk]) == EXIT_ERROR
    assert "READ BINARY size must be a whole number in 1..65535" in capsys.readouterr().err


def test_library_refuses_chunk_zero(passport: IssuedPassport) -> None:
    card = load_passport_folder(passport.folder)
    with pytest.raises(DocumentError, match="READ BINARY size 0"):
        read_passport(InProcessTransport(card), passport.mrz, None, chunk_size=0)


def test_chunk_65535_reads_a_dg2_above_64_kib(tmp_path: Path, pki_ecdsa: TestPki) -> None:
    noise = np.random.default_rng(7).integers(0, 256, (420, 420, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok and len(jpeg) > 0x10000
    issued = issue_passport(tmp_path / "p", pki=pki_ecdsa, photo=bytes(jpeg), aa="none", **HOLDER)
    card = load_passport_folder(issued.folder)
    read = read_passport(
        InProcessTransport(card), issued.mrz, TrustStore.from_folder(pki_ecdsa.folder),
        chunk_size=0xFFFF,
    )  # fmt: skip
    assert read.photo_bytes == bytes(jpeg)
    assert read.passive_auth.status == "valid"
    assert MAX_READ < 0xFFFF


@pytest.mark.parametrize("apdu", [b"\x00", b"\x01", b"\x02"])
def test_one_byte_apdu_gets_a_status_word_or_a_clear_refusal(
    passport: IssuedPassport, apdu: bytes
) -> None:
    card = load_passport_folder(passport.folder)
    assert card.transmit(apdu) == b"\x67\x00"  # the card: wrong length
    # Through PC/SC, vpcd would frame it as power off/on/reset and never answer: refused.
    with pytest.raises(ProtocolError, match="not a command"):
        PcscTransport("any").transmit(apdu)


def test_photo_error_names_no_python_object(
    tmp_path: Path, pki_ecdsa: TestPki, passport: IssuedPassport
) -> None:
    from gate.icao.reader import decode_photo

    with pytest.raises(DocumentError) as caught:
        decode_photo(b"GIF89a not a face")
    message = str(caught.value)
    assert "object at 0x" not in message and "BytesIO" not in message
    assert message == "DG2: not a JPEG or JPEG 2000 image (the content is text)"


def test_pace_only_serve_of_a_passport_without_pace(
    passport: IssuedPassport, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lds.FID_CARD_ACCESS not in passport.files
    code = main(["chip", "serve", str(passport.folder), "--pace-only", "--seconds", "1"])
    assert code == EXIT_ERROR
    err = capsys.readouterr().err
    assert "PACE-only needs a passport issued with PACE" in err and "6D00" not in err


@pytest.mark.pcsc
def test_a_card_failure_is_answered_and_reported_not_swallowed(passport: IssuedPassport) -> None:
    """A card that raises mid-APDU (the OverflowError of old) answers 6F00 and the link keeps
    the error, so ``chip serve`` exits 1 instead of 0 with a dead card thread."""
    from drivers.chip.pcscd import ensure_pcscd
    from drivers.chip.vpcd import VpcdCardLink

    class Broken:
        atr = load_passport_folder(passport.folder).atr

        def reset(self) -> bytes:
            return self.atr

        def transmit(self, apdu: bytes) -> bytes:
            raise OverflowError("int too big to convert")

    with ensure_pcscd(), VpcdCardLink(Broken()) as link:  # type: ignore[arg-type]
        transport = PcscTransport(link.reader_name, timeout=5)
        try:
            transport.connect()
            assert transport.transmit(b"\x00\xa4\x04\x0c") == b"\x6f\x00"
            assert transport.transmit(b"\x00\xb0\x00\x00\x04") == b"\x6f\x00"  # still serving
        finally:
            transport.close()
        assert isinstance(link.error, OverflowError)
