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

from typing import Any

import pytest

from bench.micro.chip_bench import issue_bench_passport, timed_read
from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcsc import PcscTransport
from drivers.chip.pcscd import PcscdStatus
from drivers.chip.vpcd import VpcdCardLink
from gate.icao.reader import TrustStore
from gate.simulate.issue import IssuedPassport

_medians: dict[str, float] = {}


@pytest.fixture(scope="module")
def issued(
    tmp_path_factory: pytest.TempPathFactory, portrait_jpeg: bytes
) -> tuple[IssuedPassport, TrustStore]:
    root = tmp_path_factory.mktemp("chip-bench")
    return issue_bench_passport(root, portrait_jpeg, ca="none")


def test_read_inprocess(benchmark: Any, issued: tuple[IssuedPassport, TrustStore]) -> None:
    card = load_passport_folder(issued[0].folder)
    timed_read(benchmark, "inprocess", InProcessTransport(card), issued, 30, _medians)


@pytest.mark.pcsc
def test_read_pcsc(
    benchmark: Any, issued: tuple[IssuedPassport, TrustStore], pcscd: PcscdStatus
) -> None:
    card = load_passport_folder(issued[0].folder)
    with VpcdCardLink(card) as link:
        timed_read(benchmark, "pcsc", PcscTransport(link.reader_name), issued, 30, _medians)


@pytest.mark.pcsc
def test_read_pcsc_424k(
    benchmark: Any, issued: tuple[IssuedPassport, TrustStore], pcscd: PcscdStatus
) -> None:
    card = load_passport_folder(issued[0].folder, link_kbps=424)
    with VpcdCardLink(card) as link:
        timed_read(benchmark, "pcsc_424k", PcscTransport(link.reader_name), issued, 5, _medians)
