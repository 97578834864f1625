"""Revocation: CSCA-signed CRLs in the trust folder, passive authentication "revoked" with the
date, stale CRLs, and master lists whose signer must chain to a trust anchor."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from gate.errors import ConfigError
from gate.icao.masterlist import build_master_list, load_master_list
from gate.icao.reader import TrustStore, read_passport
from gate.simulate.crl import issue_crl, revoke_document_signer
from gate.simulate.issue import IssuedPassport, issue_passport
from gate.simulate.pki import TestPki, init_pki, load_pki, sign_with
from tests.gate.icao.passports import HOLDER


@pytest.fixture
def pki(tmp_path: Path, pki_ecdsa: TestPki) -> TestPki:
    folder = tmp_path / "pki"
    shutil.copytree(pki_ecdsa.folder, folder)
    return load_pki(folder)


@pytest.fixture
def issued(tmp_path: Path, pki: TestPki, face_jpeg: bytes) -> IssuedPassport:
    return issue_passport(tmp_path / "p", pki=pki, photo=face_jpeg, aa="none", **HOLDER)


def _pa(issued: IssuedPassport, trust: TrustStore, now: datetime | None = None) -> object:
    card = load_passport_folder(issued.folder)
    return read_passport(InProcessTransport(card), issued.mrz, trust, now=now).passive_auth


def test_fresh_crl_without_the_signer_stays_valid(pki: TestPki, issued: IssuedPassport) -> None:
    issue_crl(pki)
    result = _pa(issued, TrustStore.from_folder(pki.folder))
    assert result.status == "valid"  # type: ignore[attr-defined]


def test_revoked_document_signer_is_reported_with_the_date(
    pki: TestPki, issued: IssuedPassport
) -> None:
    when = datetime.now(timezone.utc) - timedelta(hours=2)
    revoke_document_signer(pki, now=when)
    result = _pa(issued, TrustStore.from_folder(pki.folder))
    day = f"{when:%Y-%m-%d}"
    assert result.status == "revoked"  # type: ignore[attr-defined]
    assert result.revoked_on == day  # type: ignore[attr-defined]
    assert f"revoked on {day}" in result.reason  # type: ignore[attr-defined]


def test_crl_past_next_update_is_stale(pki: TestPki, issued: IssuedPassport) -> None:
    issue_crl(pki, next_update_days=1)
    later = datetime.now(timezone.utc) + timedelta(days=3)
    result = _pa(issued, TrustStore.from_folder(pki.folder), now=later)
    assert result.status == "crl_stale"  # type: ignore[attr-defined]


def test_crl_signed_by_another_key_is_ignored(
    pki: TestPki, issued: IssuedPassport, tmp_path: Path
) -> None:
    other = init_pki(tmp_path / "other")  # same country and CSCA name, another key
    revoke_document_signer(
        TestPki(other.folder, pki.csca_certificate, other.csca_key, pki.ds_certificate, pki.ds_key)
    )
    shutil.copy(other.folder / "csca.crl", pki.folder / "forged.crl")
    result = _pa(issued, TrustStore.from_folder(pki.folder))
    assert result.status == "valid"  # type: ignore[attr-defined]


def test_master_list_signer_must_chain_to_an_anchor(pki: TestPki, tmp_path: Path) -> None:
    listed = init_pki(tmp_path / "listed").csca_certificate
    data = build_master_list(
        [listed], pki.ds_certificate, lambda m: sign_with(pki.ds_key, m), "sha256_ecdsa"
    )
    assert load_master_list(data, "ml", anchors=[pki.csca_certificate]) == [listed]
    stranger = init_pki(tmp_path / "stranger").csca_certificate
    with pytest.raises(ConfigError, match="not a trust anchor"):
        load_master_list(data, "ml", anchors=[stranger])


def test_crl_file_that_is_not_a_crl_is_named(pki: TestPki) -> None:
    (pki.folder / "bad.crl").write_bytes(
        pki.csca_certificate.public_bytes(serialization.Encoding.DER)
    )
    with pytest.raises(ConfigError, match=r"bad\.crl is not a CRL"):
        TrustStore.from_folder(pki.folder)


def test_pki_cli_revoke_and_import(
    pki: TestPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gate.cli import EXIT_ERROR, EXIT_OK, main

    assert main(["pki", "revoke", str(pki.folder), "--next-update-days", "7"]) == EXIT_OK
    trust = TrustStore.from_folder(pki.folder)
    assert len(trust.crls) == 1 and len(trust.crls_of(pki.csca_certificate)) == 1
    listed = init_pki(tmp_path / "listed").csca_certificate
    ml = tmp_path / "list.ml"
    ml.write_bytes(
        build_master_list(
            [listed], pki.ds_certificate, lambda m: sign_with(pki.ds_key, m), "sha256_ecdsa"
        )
    )
    out = tmp_path / "imported"
    args = ["pki", "import", str(ml), "--out", str(out)]
    assert main([*args, "--anchor", str(pki.folder / "csca.pem")]) == EXIT_OK
    assert TrustStore.from_folder(out).certificates == [listed]
    stranger = tmp_path / "listed" / "csca.pem"
    assert main([*args, "--anchor", str(stranger)]) == EXIT_ERROR
    assert "not a trust anchor" in capsys.readouterr().err
