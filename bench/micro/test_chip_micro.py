"""Micro-benchmarks of the ePassport read.

Run: ``.venv/bin/pytest bench/micro/test_chip_micro.py --benchmark-enable --benchmark-only``

The complete read (BAC, EF.COM, DG1, a DG2 of about 20 KB, EF.SOD, passive authentication;
a chip without AA so that exactly this list is measured) over:
* ``inprocess``: direct calls into the virtual passport (the software's own cost, baseline);
* ``pcsc``: pyscard -> pcscd -> vpcd -> virtual passport, link emulation off;
* ``pcsc_424k``: the same with the emulated 424 kbit/s air link.
Medians and ratios against the in-process baseline of the same run go into ``extra_info``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import cv2
import pytest

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcsc import PcscTransport
from drivers.chip.pcscd import PcscdStatus, ensure_pcscd, pcscd_available
from drivers.chip.vpcd import VpcdCardLink
from gate.icao.reader import PassportRead, TrustStore, read_passport
from gate.interfaces import ChipTransport
from gate.simulate.issue import IssuedPassport, issue_passport
from gate.simulate.pki import init_pki


class Holder(TypedDict):
    surname: str
    given_names: str
    nationality: str
    birth_date: str
    sex: str
    expiry_date: str
    document_number: str


HOLDER: Holder = {
    "surname": "Hanks",
    "given_names": "Tom",
    "nationality": "UTO",
    "birth_date": "560709",
    "sex": "M",
    "expiry_date": "341231",
    "document_number": "X1234567",
}
_medians: dict[str, float] = {}


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> tuple[IssuedPassport, TrustStore]:
    import insightface

    photo = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"
    portrait = cv2.imread(str(photo))
    assert portrait is not None, photo
    image = cv2.resize(portrait, (300, 375), interpolation=cv2.INTER_CUBIC)
    jpeg = bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1])
    root = tmp_path_factory.mktemp("chip-bench")
    pki = init_pki(root / "pki", algorithm="ecdsa")
    passport = issue_passport(root / "pp", pki=pki, photo=jpeg, aa="none", ca="none", **HOLDER)
    return passport, TrustStore.from_folder(root / "pki")


@pytest.fixture(scope="module")
def pcscd() -> Iterator[PcscdStatus]:
    reason = pcscd_available()
    if reason:
        pytest.skip(f"PC/SC path unavailable: {reason}")
    with ensure_pcscd() as status:
        yield status


def _run(
    benchmark: Any,
    name: str,
    transport: ChipTransport,
    issued: tuple[IssuedPassport, TrustStore],
    rounds: int,
) -> PassportRead:
    passport, trust = issued

    def read() -> PassportRead:
        try:
            return read_passport(transport, passport.mrz, trust)
        finally:
            transport.close()

    result: PassportRead = benchmark.pedantic(read, rounds=rounds, iterations=1, warmup_rounds=1)
    assert result.passive_auth.status == "valid"
    benchmark.extra_info["apdus"] = result.apdus
    benchmark.extra_info["dg2_bytes"] = len(passport.files[0x0102])
    if benchmark.stats is None:  # --benchmark-disable (make test): a smoke run, nothing timed
        return result
    median_ms = statistics.median(benchmark.stats.stats.data) * 1000.0
    _medians[name] = median_ms
    benchmark.extra_info["median_ms"] = round(median_ms, 2)
    if "inprocess" in _medians and name != "inprocess":
        benchmark.extra_info["ratio_vs_inprocess"] = round(median_ms / _medians["inprocess"], 2)
    return result


def test_read_inprocess(benchmark: Any, issued: tuple[IssuedPassport, TrustStore]) -> None:
    card = load_passport_folder(issued[0].folder)
    _run(benchmark, "inprocess", InProcessTransport(card), issued, rounds=30)


@pytest.mark.pcsc
def test_read_pcsc(
    benchmark: Any, issued: tuple[IssuedPassport, TrustStore], pcscd: PcscdStatus
) -> None:
    card = load_passport_folder(issued[0].folder)
    with VpcdCardLink(card) as link:
        _run(benchmark, "pcsc", PcscTransport(link.reader_name), issued, rounds=30)


@pytest.mark.pcsc
def test_read_pcsc_424k(
    benchmark: Any, issued: tuple[IssuedPassport, TrustStore], pcscd: PcscdStatus
) -> None:
    card = load_passport_folder(issued[0].folder, link_kbps=424)
    with VpcdCardLink(card) as link:
        _run(benchmark, "pcsc_424k", PcscTransport(link.reader_name), issued, rounds=5)
