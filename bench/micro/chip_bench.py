"""The chip micro-benchmarks' shared read: one complete read per round, with the median and
the ratio against the same run's in-process baseline recorded in ``extra_info``."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, TypedDict

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


def issue_bench_passport(
    root: Path, photo: bytes, **options: Any
) -> tuple[IssuedPassport, TrustStore]:
    """A passport (AA off, so the read list is exactly what a benchmark names) and the trust
    store of its fresh test PKI."""
    pki = init_pki(root / "pki", algorithm="ecdsa")
    passport = issue_passport(root / "pp", pki=pki, photo=photo, aa="none", **options, **HOLDER)
    return passport, TrustStore.from_folder(root / "pki")


def timed_read(
    benchmark: Any,
    name: str,
    transport: ChipTransport,
    issued: tuple[IssuedPassport, TrustStore],
    rounds: int,
    medians: dict[str, float],
) -> PassportRead:
    """Benchmark ``read_passport`` over ``transport``; ``medians[name]`` gets the median (ms)
    when timing is on (``make bench``), nothing under ``--benchmark-disable``."""
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
    medians[name] = median_ms
    benchmark.extra_info["median_ms"] = round(median_ms, 2)
    if "inprocess" in medians and name != "inprocess":
        benchmark.extra_info["ratio_vs_inprocess"] = round(median_ms / medians["inprocess"], 2)
    return result
