"""PACE, Chip Authentication and revocation through the real path: pyscard -> pcscd -> vpcd.

A PACE-only TD1 ID card (CAN) and a BAC+PACE passport are read with PACE, passive and chip
authentication valid; a cloned chip fails CA and is referred; a revoked Document Signer
gives "revoked"; a wrong CAN or MRZ says "PACE failed"; ``chip read`` says no (exit 1) when
the printed MRZ differs from DG1.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcsc import PcscTransport
from drivers.chip.pcscd import PcscdStatus
from drivers.chip.vpcd import VpcdCardLink
from gate.cli import EXIT_FAILURE, EXIT_OK, main
from gate.decision import DecisionPolicy, check_document
from gate.errors import SecurityError
from gate.icao.mrz import Mrz
from gate.icao.reader import PassportRead, TrustStore, read_passport
from gate.outcome import Decision
from gate.simulate.crl import revoke_document_signer
from gate.simulate.issue import IssuedPassport, issue_passport
from gate.simulate.pki import TestPki, load_pki
from gate.transaction import DocumentRead
from tests.gate.icao.passports import HOLDER, wrong_mrz

pytestmark = pytest.mark.pcsc
CAN = "314159"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory, pki_ecdsa: TestPki) -> TestPki:
    folder = tmp_path_factory.mktemp("pace-pki") / "pki"
    shutil.copytree(pki_ecdsa.folder, folder)
    return load_pki(folder)


@pytest.fixture(scope="module")
def id_card(
    tmp_path_factory: pytest.TempPathFactory, pki: TestPki, face_jpeg: bytes
) -> IssuedPassport:
    out = tmp_path_factory.mktemp("id-card") / "card"
    return issue_passport(
        out, pki=pki, photo=face_jpeg, document="td1", access="pace-only", can=CAN,
        ca="ecdh", aa="none", **HOLDER,
    )  # fmt: skip


@pytest.fixture(scope="module")
def passport_pace(
    tmp_path_factory: pytest.TempPathFactory, pki: TestPki, face_jpeg: bytes
) -> IssuedPassport:
    out = tmp_path_factory.mktemp("bac-pace") / "p"
    return issue_passport(
        out, pki=pki, photo=face_jpeg, access="bac+pace", ca="dh", aa="ecdsa", **HOLDER
    )


def _read(
    issued: IssuedPassport,
    mrz: Mrz | None,
    trust: TrustStore | None,
    *,
    clone: bool = False,
    can: str | None = None,
) -> PassportRead:
    card = load_passport_folder(issued.folder, clone=clone)
    with VpcdCardLink(card) as link:
        transport = PcscTransport(link.reader_name, timeout=5)
        try:
            return read_passport(transport, mrz, trust, can=can)
        finally:
            transport.close()


def test_pace_only_id_card_and_bac_pace_passport_read_with_pace(
    pcscd: PcscdStatus, id_card: IssuedPassport, passport_pace: IssuedPassport, pki: TestPki
) -> None:
    trust = TrustStore.from_folder(pki.folder)
    card = _read(id_card, None, trust, can=CAN)
    passport = _read(passport_pace, passport_pace.mrz, trust)
    for read in (card, passport):
        assert (read.access.protocol, read.access.mapping) == ("PACE", "GM")
        assert read.passive_auth.status == "valid", read.passive_auth.reason
        assert read.chip_auth.status == "valid", read.chip_auth.reason
    assert card.dg1.kind == "TD1" and card.access.password == "CAN"
    assert passport.chip_auth.algorithm == "CA-DH-AES-128"
    assert passport.active_auth.status == "valid"


def test_cloned_chip_fails_ca_and_is_referred(
    pcscd: PcscdStatus, passport_pace: IssuedPassport, pki: TestPki
) -> None:
    read = _read(passport_pace, passport_pace.mrz, TrustStore.from_folder(pki.folder), clone=True)
    assert read.passive_auth.status == "valid"  # copied data groups are genuine
    assert read.chip_auth.status == "invalid"
    doc = DocumentRead(
        document_number=read.dg1.document_number,
        expiry_date=read.dg1.expiry_date,
        dg1_mrz=read.dg1.text,
        photo=read.photo,
        passive_auth=read.passive_auth.status,
        active_auth=read.active_auth.status,
        chip_auth=read.chip_auth.status,
    )
    verdict = check_document(doc, passport_pace.mrz.text, dt.date.today(), DecisionPolicy())
    assert verdict is not None and verdict.decision is Decision.REFER_DOCUMENT


def test_wrong_can_or_mrz_says_pace_failed(
    pcscd: PcscdStatus, id_card: IssuedPassport, passport_pace: IssuedPassport
) -> None:
    with pytest.raises(SecurityError, match="PACE failed"):
        _read(id_card, None, None, can="000000")
    with pytest.raises(SecurityError, match="PACE failed"):
        _read(passport_pace, wrong_mrz(passport_pace.mrz), None)


def test_revoked_signer_and_cli_json(
    pcscd: PcscdStatus,
    id_card: IssuedPassport,
    pki: TestPki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trust = tmp_path / "trust"
    shutil.copytree(pki.folder, trust)
    revoke_document_signer(load_pki(trust))
    card = load_passport_folder(id_card.folder)
    with VpcdCardLink(card) as link:
        args = ["chip", "read", "--reader", link.reader_name, "--can", CAN, "--json"]
        code = main([*args, "--trust", str(trust)])
    report = json.loads(capsys.readouterr().out)
    assert code == EXIT_FAILURE
    assert report["passive_auth"]["status"] == "revoked"
    assert report["passive_auth"]["revoked_on"] == f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d}"
    assert report["access"] == {
        "protocol": "PACE",
        "mapping": "GM",
        "cipher": "AES-128",
        "domain": "brainpoolP256r1",
        "password": "CAN",
    }
    assert report["chip_auth"]["status"] == "valid"


def test_chip_read_says_no_when_the_printed_mrz_differs(
    pcscd: PcscdStatus, passport_pace: IssuedPassport, pki: TestPki
) -> None:
    lines = list(passport_pace.mrz.lines)
    forged = lines[0].replace("TOM", "TIM")
    card = load_passport_folder(passport_pace.folder)
    with VpcdCardLink(card) as link:
        args = ["chip", "read", "--reader", link.reader_name, "--trust", str(pki.folder)]
        assert main([*args, "--mrz", "|".join(lines)]) == EXIT_OK
        assert main([*args, "--mrz", f"{forged}|{lines[1]}"]) == EXIT_FAILURE


def test_chip_serve_clone_process_gives_ca_invalid(
    pcscd: PcscdStatus,
    passport_pace: IssuedPassport,
    pki: TestPki,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re
    import signal
    import subprocess
    import sys

    serve = subprocess.Popen(
        [sys.executable, "-m", "gate", "chip", "serve", str(passport_pace.folder), "--clone",
         "--seconds", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        banner = serve.stdout.readline()
        found = re.search(r"presenting .* on '(Virtual PCD 00 0\d)'", banner)
        assert found, banner
        args = ["chip", "read", "--reader", found.group(1), "--trust", str(pki.folder), "--json"]
        code = main([*args, "--mrz", "|".join(passport_pace.mrz.lines)])
        report = json.loads(capsys.readouterr().out)
    finally:
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=20)
    assert code == EXIT_FAILURE
    assert report["access"]["protocol"] == "PACE"
    assert report["passive_auth"]["status"] == "valid"
    assert report["chip_auth"]["status"] == "invalid"
    assert report["active_auth"]["status"] == "invalid"
