"""Only CSCA certificates are trust anchors: a Document Signer (or any end-entity certificate)
in the trust folder is left out with a warning naming the file, and what it signs fails
passive authentication; link certificates and the simulator's CSCAs are anchors."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from gate.errors import ConfigError
from gate.icao import lds
from gate.icao.csca import csca_problem
from gate.icao.masterlist import build_master_list
from gate.icao.pa import PassiveAuthResult, TrustStore, passive_authentication
from gate.icao.sod import build_sod
from gate.simulate.issue import IssuedPassport
from gate.simulate.pki import (
    PrivateKey,
    TestPki,
    make_csca,
    make_document_signer,
    new_key,
    sign_with,
    trust_folder,
)

NOW = datetime.now(timezone.utc)
YEAR = timedelta(days=365)


def _pa(passport: IssuedPassport, signer: TestPki, trust: TrustStore) -> PassiveAuthResult:
    """Passive authentication of ``passport``'s data groups under an SOD that ``signer``'s
    Document Signer signed."""
    groups = {dg: passport.files[fid] for dg, (fid, _) in lds.DATA_GROUPS.items()
              if fid in passport.files}  # fmt: skip
    sod = build_sod(
        groups,
        sign=signer.sign,
        signature_algorithm=signer.signature_algorithm,
        ds_certificate_der=signer.ds_certificate.public_bytes(serialization.Encoding.DER),
        signing_time=NOW,
    )
    return passive_authentication(groups, sod, trust, issuing_state="UTO")


def _pem(folder: Path, name: str, *certificates: x509.Certificate) -> None:
    folder.mkdir(exist_ok=True)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    (folder / name).write_bytes(pem)


def _self_signed(
    key: PrivateKey, subject: x509.Name, *extensions: tuple[x509.ExtensionType, bool]
) -> x509.Certificate:
    """A self-signed certificate with ``extensions`` (each with its criticality)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - YEAR)
        .not_valid_after(NOW + YEAR)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())


def test_the_simulators_csca_is_an_anchor_and_its_ds_is_not(
    pki_ecdsa: TestPki, caplog: pytest.LogCaptureFixture
) -> None:
    assert csca_problem(pki_ecdsa.csca_certificate) is None
    with caplog.at_level(logging.WARNING, logger="gate.icao.csca"):
        store = TrustStore.from_folder(pki_ecdsa.folder)  # csca.pem and ds.pem side by side
    assert store.certificates == [pki_ecdsa.csca_certificate]
    (line,) = store.refused
    assert str(pki_ecdsa.folder / "ds.pem") in line
    assert "basicConstraints" in line
    assert [r.getMessage() for r in caplog.records] == [f"trust store: {line}"]


@pytest.mark.parametrize("forged", ["issued by the DS", "self-signed leaf"])
def test_what_a_ds_in_the_folder_signs_fails_passive_authentication(
    tmp_path: Path, pki_ecdsa: TestPki, passport: IssuedPassport, forged: str
) -> None:
    key = new_key("ecdsa")
    if forged == "issued by the DS":  # whoever holds a DS key issues "Document Signers"
        planted = pki_ecdsa.ds_certificate
        signer = make_document_signer(
            planted, pki_ecdsa.ds_key, key, not_before=NOW - YEAR, not_after=NOW + YEAR
        )
    else:
        signing_only = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        planted = signer = _self_signed(key, pki_ecdsa.ds_certificate.subject, (signing_only, True))
    _pem(tmp_path / "trust", "csca.pem", pki_ecdsa.csca_certificate)
    _pem(tmp_path / "trust", "planted.pem", planted)
    store = TrustStore.from_folder(tmp_path / "trust")
    assert store.certificates == [pki_ecdsa.csca_certificate]
    assert "planted.pem" in store.refused[0]
    result = _pa(passport, replace(pki_ecdsa, ds_certificate=signer, ds_key=key), store)
    assert result.status == "invalid"
    assert result.reason.startswith("Document Signer not issued by a trusted CSCA")
    assert _pa(passport, pki_ecdsa, store).status == "valid"  # the real DS still is


def test_a_folder_with_no_csca_is_refused_naming_the_file(
    tmp_path: Path, pki_ecdsa: TestPki
) -> None:
    _pem(tmp_path / "trust", "ds.pem", pki_ecdsa.ds_certificate)
    with pytest.raises(ConfigError, match="holds no CSCA certificate: .*ds.pem is not a CSCA"):
        TrustStore.from_folder(tmp_path / "trust")


def _ca(
    key: PrivateKey,
    *,
    ca: bool = True,
    critical: bool = True,
    usage: tuple[bool, bool] | None = (True, True),
) -> x509.Certificate:
    """A self-signed certificate with the given basicConstraints and (keyCertSign, cRLSign)."""
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "CSCA X")])
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=ca, path_length=None), critical)
    ]
    if usage is not None:
        sign, crl = usage
        extensions.append(
            (x509.KeyUsage(False, False, False, False, False, sign, crl, False, False), True)
        )
    return _self_signed(key, name, *extensions)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"ca": False}, "basicConstraints CA is false"),
        ({"critical": False}, "basicConstraints is not critical"),
        ({"usage": None}, "no keyUsage"),
        ({"usage": (False, True)}, "keyUsage lacks keyCertSign"),
        ({"usage": (True, False)}, "keyUsage lacks cRLSign"),
    ],
)
def test_what_a_csca_needs(options: dict[str, object], reason: str) -> None:
    key = new_key("ecdsa")
    assert csca_problem(_ca(key)) is None
    problem = csca_problem(_ca(key, **options))  # type: ignore[arg-type]
    assert problem is not None
    assert problem.startswith(reason)


def test_a_link_certificate_is_an_anchor(
    tmp_path: Path, pki_ecdsa: TestPki, passport: IssuedPassport
) -> None:
    """The new CSCA key, certified by the old one under the same name, signs the new DS."""
    old = pki_ecdsa.csca_certificate
    new_csca_key = new_key("ecdsa")
    fresh = make_csca(new_csca_key, "UTO", not_before=NOW - YEAR, not_after=NOW + YEAR)
    link = (
        x509.CertificateBuilder(extensions=list(fresh.extensions))
        .subject_name(old.subject)
        .issuer_name(old.subject)
        .public_key(new_csca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - YEAR)
        .not_valid_after(NOW + YEAR)
        .sign(pki_ecdsa.csca_key, hashes.SHA256())
    )
    ds_key = new_key("ecdsa")
    ds = make_document_signer(link, new_csca_key, ds_key, not_before=NOW - YEAR,
                              not_after=NOW + YEAR)  # fmt: skip
    _pem(tmp_path / "trust", "cscas.pem", old, link)
    store = TrustStore.from_folder(tmp_path / "trust")
    assert store.certificates == [old, link] and store.refused == []
    result = _pa(passport, replace(pki_ecdsa, ds_certificate=ds, ds_key=ds_key), store)
    assert (result.status, result.reason) == (
        "valid", "hashes and SOD signature and certificate chain verified"
    )  # fmt: skip


def test_a_ds_in_a_master_list_is_left_out(tmp_path: Path, pki_ecdsa: TestPki) -> None:
    data = build_master_list(
        [pki_ecdsa.csca_certificate, pki_ecdsa.ds_certificate],
        pki_ecdsa.csca_certificate,
        lambda message: sign_with(pki_ecdsa.csca_key, message),
        "sha256_ecdsa",
    )
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "icao.ml").write_bytes(data)
    store = TrustStore.from_folder(tmp_path / "trust")
    assert store.certificates == [pki_ecdsa.csca_certificate]
    (line,) = store.refused
    assert "icao.ml" in line and "CN=Document Signer" in line


def test_the_simulators_trust_folder_holds_the_csca_and_its_crl(
    tmp_path: Path, pki_ecdsa: TestPki
) -> None:
    pki = replace(pki_ecdsa, folder=tmp_path / "pki")
    shutil.copytree(pki_ecdsa.folder, pki.folder)
    (pki.folder / "csca.crl").write_bytes(b"not read here")
    folder = trust_folder(pki, tmp_path / "trust")
    assert sorted(p.name for p in folder.iterdir()) == ["csca.crl", "csca.pem"]
    (pki.folder / "csca.crl").unlink()
    trust_folder(pki, folder)  # a reused work folder: the old CRL goes
    assert [p.name for p in folder.iterdir()] == ["csca.pem"]
