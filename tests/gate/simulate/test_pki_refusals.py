"""The PKI commands refuse what cannot work (issue 23): ICAO country codes only, no silent
overwrite of a PKI, revocation of this CSCA's own certificates with its own key, and one
line (exit 2, no traceback) for an encrypted key, a hand-edited revoked.json or a master list
without a signer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from gate.cli import EXIT_ERROR, EXIT_OK, main
from gate.errors import DocumentError
from gate.icao.country import alpha2, nationality_code, state_code
from gate.icao.masterlist import build_master_list
from gate.simulate.crl import MAX_SERIAL, revoke_document_signer
from gate.simulate.pki import TestPki, init_pki, load_pki, sign_with

PKI_FILES = ("csca.pem", "csca-key.pem", "ds.pem", "ds-key.pem")


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``egate argv``: exit 2 with exactly one stderr line and no traceback."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == EXIT_ERROR, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def own(tmp_path: Path, pki: TestPki) -> TestPki:
    """A copy of the module's PKI that a test may change."""
    folder = tmp_path / "own"
    shutil.copytree(pki.folder, folder)
    return load_pki(folder)


# -- country codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["ZZ", "12", "é1", "ZZZ", "DE", "", "DEUT", "XXA", "X<"])
def test_pki_init_refuses_a_country_that_is_not_an_icao_code(
    country: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(capsys, "pki", "init", str(tmp_path / "p"), "--country", country)
    assert "PKI country" in line
    assert not (tmp_path / "p").exists()  # nothing written


@pytest.mark.parametrize(
    ("country", "c"), [("DEU", "DE"), ("deu", "DE"), ("D", "DE"), ("GBD", "GB"), ("UNO", "UN")]
)
def test_pki_init_accepts_icao_codes_and_writes_their_alpha2(
    country: str, c: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pki", "init", str(tmp_path / "p"), "--country", country]) == EXIT_OK
    csca = load_pki(tmp_path / "p").csca_certificate
    assert csca.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == c


def test_country_codes_follow_the_icao_list() -> None:
    assert [alpha2(code) for code in ("UTO", "D<<", "FRA", "EUE", "GBS")] == [
        "UT", "DE", "FR", "EU", "GB",
    ]  # fmt: skip
    assert nationality_code("xxb") == "XXB"  # stateless / refugee: a nationality only
    for code in ("XXB", "ZZ", "AAA", "1", "DÉU"):
        with pytest.raises(DocumentError, match="issuing state"):
            state_code(code, "issuing state")


# -- pki init over an existing PKI ---------------------------------------------------------


def test_pki_init_never_replaces_an_existing_pki_without_force(
    own: TestPki, capsys: pytest.CaptureFixture[str]
) -> None:
    revoke_document_signer(own)  # csca.crl and revoked.json of this CSCA
    before = {name: (own.folder / name).read_bytes() for name in PKI_FILES}
    line = refused(capsys, "pki", "init", str(own.folder))
    assert "already holds a PKI" in line and "--force" in line
    assert {name: (own.folder / name).read_bytes() for name in PKI_FILES} == before

    assert main(["pki", "init", str(own.folder), "--force"]) == EXIT_OK
    after = {name: (own.folder / name).read_bytes() for name in PKI_FILES}
    assert all(after[name] != before[name] for name in PKI_FILES)
    # The old CSCA's CRL and revocations went with it.
    assert not (own.folder / "csca.crl").exists() and not (own.folder / "revoked.json").exists()
    load_pki(own.folder)  # and the new files belong together


def test_pki_init_refuses_a_folder_with_only_a_key_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "csca-key.pem").write_text("an operator's key\n")
    assert "csca-key.pem" in refused(capsys, "pki", "init", str(tmp_path / "p"))
    assert (tmp_path / "p" / "csca-key.pem").read_text() == "an operator's key\n"


# -- revocation ----------------------------------------------------------------------------


def test_revoke_refuses_another_pkis_certificate_with_the_same_issuer_name(
    own: TestPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = init_pki(tmp_path / "other")  # same country, same CSCA name, another key
    assert other.ds_certificate.issuer == own.csca_certificate.subject
    line = refused(
        capsys, "pki", "revoke", str(own.folder), "--certificate", str(other.folder / "ds.pem")
    )
    assert "not issued by this CSCA's key" in line
    assert not (own.folder / "revoked.json").exists() and not (own.folder / "csca.crl").exists()


def test_revoke_refuses_the_csca_itself(own: TestPki, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(
        capsys, "pki", "revoke", str(own.folder), "--certificate", str(own.folder / "csca.pem")
    )
    assert "CSCA certificate itself" in line


def test_revoke_refuses_a_csca_key_that_does_not_match_the_csca(
    own: TestPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = init_pki(tmp_path / "other")
    shutil.copy(other.folder / "csca-key.pem", own.folder / "csca-key.pem")
    for command in ("revoke", "crl"):
        line = refused(capsys, "pki", command, str(own.folder))
        assert "csca-key.pem is not the key of" in line
    assert not (own.folder / "csca.crl").exists()  # no CRL whose signature fails


def test_a_ds_of_another_csca_in_the_folder_is_refused(
    own: TestPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = init_pki(tmp_path / "other")
    for name in ("ds.pem", "ds-key.pem"):
        shutil.copy(other.folder / name, own.folder / name)
    assert "ds.pem is not issued by" in refused(capsys, "pki", "crl", str(own.folder))


def test_revocation_still_lands_in_a_crl_that_verifies(own: TestPki) -> None:
    crl = revoke_document_signer(own)
    assert crl.is_signature_valid(own.csca_certificate.public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(own.ds_certificate.serial_number)


def test_an_encrypted_csca_key_is_one_line(
    own: TestPki, capsys: pytest.CaptureFixture[str]
) -> None:
    encrypted = own.csca_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    (own.folder / "csca-key.pem").write_bytes(encrypted)
    assert "is an encrypted private key" in refused(capsys, "pki", "crl", str(own.folder))


# -- a hand-edited revoked.json --------------------------------------------------------------

DEEP = '{"1": ' + "[" * 100_000 + "]" * 100_000 + "}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"5": "31 February"}', "date of serial 5 is not an ISO 8601"),
        ('{"5": "2026-02-31T00:00:00+00:00"}', "date of serial 5 is not an ISO 8601"),
        ('{"5": "1900-01-01T00:00:00+00:00"}', "date of serial 5 is before 1950"),
        ('{"5": 20260101}', "date of serial 5 is a int"),
        ('{"0": "2026-01-01T00:00:00+00:00"}', "serial 0 is not in 1 .. 2**159-1"),
        ('{"-3": "2026-01-01T00:00:00+00:00"}', "serial '-3' is not a decimal number"),
        (json.dumps({str(1 << 159): "2026-01-01"}), "is not in 1 .. 2**159-1"),
        ('{"' + "9" * 5000 + '": "2026-01-01"}', "is not a decimal number"),
        ('{"0x10": "2026-01-01"}', "serial '0x10' is not a decimal number"),
        ('["5"]', "is not a revocation record"),
        ("{5: ", "is not JSON"),
        (DEEP, "nested too deep"),
    ],
)
def test_a_hand_edited_revocation_record_is_one_line_naming_file_and_field(
    own: TestPki, text: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (own.folder / "revoked.json").write_text(text)
    for argv in (["pki", "crl", str(own.folder)], ["pki", "revoke", str(own.folder)]):
        line = refused(capsys, *argv)
        assert "revoked.json" in line and expected in line
    assert not (own.folder / "csca.crl").exists()


def test_the_largest_serial_is_accepted(own: TestPki) -> None:
    (own.folder / "revoked.json").write_text(json.dumps({str(MAX_SERIAL): "2026-01-01"}))
    crl = revoke_document_signer(own)
    assert len(crl) == 2 and crl.get_revoked_certificate_by_serial_number(MAX_SERIAL)


# -- master lists ----------------------------------------------------------------------------


def _master_list(pki: TestPki, tmp_path: Path) -> bytes:
    listed = init_pki(tmp_path / "listed").csca_certificate
    return build_master_list(
        [listed], pki.ds_certificate, lambda m: sign_with(pki.ds_key, m), "sha256_ecdsa"
    )


def _no_signer(info: cms.ContentInfo) -> None:
    info["content"]["signer_infos"] = cms.SignerInfos([])


def _no_digest_value(info: cms.ContentInfo) -> None:
    signer = info["content"]["signer_infos"][0]
    attrs = signer["signed_attrs"]
    signer["signed_attrs"] = cms.CMSAttributes(
        [
            {"type": a["type"].native, "values": []} if a["type"].native == "message_digest" else a
            for a in attrs
        ]
    )


def _no_digest_attribute(info: cms.ContentInfo) -> None:
    signer = info["content"]["signer_infos"][0]
    attrs = signer["signed_attrs"]
    signer["signed_attrs"] = cms.CMSAttributes(
        [a for a in attrs if a["type"].native != "message_digest"]
    )


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_no_signer, "0 signer infos, expected 1"),
        (_no_digest_value, "no single message digest"),
        (_no_digest_attribute, "no single message digest"),
    ],
)
def test_a_master_list_without_signer_or_digest_is_one_line(
    pki: TestPki,
    tmp_path: Path,
    damage: object,
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    info = cms.ContentInfo.load(_master_list(pki, tmp_path))
    damage(info)  # type: ignore[operator]
    ml = tmp_path / "bad.ml"
    ml.write_bytes(info.dump(force=True))
    anchor = str(pki.folder / "csca.pem")
    out = tmp_path / "out"
    line = refused(capsys, "pki", "import", str(ml), "--anchor", anchor, "--out", str(out))
    assert "bad.ml" in line and expected in line
    assert not out.exists()


def test_an_intact_master_list_still_imports(pki: TestPki, tmp_path: Path) -> None:
    ml = tmp_path / "good.ml"
    ml.write_bytes(_master_list(pki, tmp_path))
    anchor = str(pki.folder / "csca.pem")
    out = tmp_path / "out"
    assert main(["pki", "import", str(ml), "--anchor", anchor, "--out", str(out)]) == EXIT_OK
    (written,) = out.iterdir()
    assert x509.load_pem_x509_certificate(written.read_bytes()).subject.rfc4514_string()
