"""Folders a user names (a trust store, a passport, a test PKI) may hold a FIFO where a file
should be: it is refused in one line naming it, never opened (opening a FIFO blocks)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivers.chip.passport_folder import MANIFEST, load_passport_folder
from gate.errors import ConfigError, DocumentError, ImageError, ModelError
from gate.icao.pa import TrustStore
from gate.simulate.issue import issue_passport
from gate.simulate.pki import init_pki, load_pki


@pytest.mark.timeout(20)
def test_a_fifo_in_a_trust_store_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "csca.pem")
    with pytest.raises(ConfigError, match=r"csca\.pem: it is a FIFO"):
        TrustStore.from_folder(tmp_path)


@pytest.mark.timeout(20)
def test_a_fifo_in_a_passport_folder_is_refused(tmp_path: Path) -> None:
    pki = init_pki(tmp_path / "pki")
    os.mkfifo(tmp_path / "face.jpg")
    with pytest.raises(ImageError, match=r"face\.jpg: it is a FIFO"):
        issue_passport(
            tmp_path / "pp",
            pki=pki,
            photo=tmp_path / "face.jpg",
            surname="FIFO",
            given_names="TEST",
            nationality="UTO",
            birth_date="900101",
            sex="F",
            expiry_date="351231",
            document_number="F12345678",
        )
    folder = tmp_path / "fake-passport"
    folder.mkdir()
    os.mkfifo(folder / MANIFEST)
    with pytest.raises(DocumentError, match=r"passport\.json: it is a FIFO"):
        load_passport_folder(folder)


@pytest.mark.timeout(20)
def test_a_fifo_in_a_test_pki_is_refused(tmp_path: Path) -> None:
    pki = init_pki(tmp_path / "pki")
    victim = next(p for p in pki.folder.iterdir() if p.suffix == ".pem")
    victim.unlink()
    os.mkfifo(victim)
    with pytest.raises((ConfigError, DocumentError), match="it is a FIFO"):
        load_pki(pki.folder)


@pytest.mark.timeout(20)
def test_a_passport_manifest_nested_100000_deep_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "deep-passport"
    folder.mkdir()
    (folder / MANIFEST).write_bytes(b'{"files": ' + b"[" * 100_000)
    with pytest.raises(DocumentError, match=r"passport\.json: not accepted: JSON nested"):
        load_passport_folder(folder)


@pytest.mark.timeout(20)
def test_a_broker_credentials_file_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    from gate.console.broker_setup import read_credentials

    os.mkfifo(tmp_path / "lane.env")
    with pytest.raises(ConfigError, match=r"lane\.env: it is a FIFO"):
        read_credentials(tmp_path / "lane.env")


@pytest.mark.timeout(20)
def test_a_pack_manifest_over_its_limit_is_refused_unread(tmp_path: Path) -> None:
    from models.pack import load_manifest

    pack = tmp_path / "big-pack"
    pack.mkdir()
    with open(pack / "manifest.json", "wb") as out:
        out.truncate(50 * 1024 * 1024)
    with pytest.raises(ModelError, match="over the"):
        load_manifest(str(pack))
