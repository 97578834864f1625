"""``egate pki revoke``, ``egate pki crl``, ``egate pki import``: revocation and master lists."""

from __future__ import annotations

import argparse
from pathlib import Path

from gate.cli import args as argtypes
from gate.cli.base import EXIT_OK, Registry


def register(registry: Registry) -> None:
    registry.group("pki", "test PKI for virtual passports")
    p = registry.command(
        "pki revoke",
        "revoke the Document Signer of DIR (or --certificate) and re-issue the CSCA's CRL",
        _revoke,
    )
    p.add_argument("dir", type=argtypes.directory, help="folder made by 'egate pki init'")
    p.add_argument("--certificate", type=argtypes.regular_file, help="DS certificate (PEM)")
    _next_update(p)
    p = registry.command("pki crl", "issue the CSCA-signed CRL of DIR (csca.crl)", _crl)
    p.add_argument("dir", type=argtypes.directory, help="folder made by 'egate pki init'")
    _next_update(p)
    p = registry.command(
        "pki import",
        "import the CSCAs of an ICAO master list whose signer chains to a trust anchor",
        _import,
    )
    p.add_argument("master_list", type=argtypes.regular_file, help="CSCA master list (.ml)")
    p.add_argument(
        "--anchor",
        type=argtypes.regular_file,
        required=True,
        action="append",
        help="trusted certificate (PEM/DER) that issued the list's signer; repeatable",
    )
    p.add_argument("--out", type=Path, required=True, help="trust folder to write CSCAs into")


def _next_update(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--next-update-days",
        type=argtypes.float_range(0.0, 3650.0, "days"),
        default=30.0,
        help="the CRL's nextUpdate, days from now (default 30)",
    )


def _revoke(args: argparse.Namespace) -> int:
    from gate.simulate.crl import revoke_document_signer
    from gate.simulate.pki import load_certificate, load_pki

    pki = load_pki(args.dir)
    certificate = load_certificate(args.certificate) if args.certificate else None
    crl = revoke_document_signer(pki, certificate, next_update_days=args.next_update_days)
    print(f"revoked; CRL of {len(crl)} entries written to {args.dir / 'csca.crl'}")
    return EXIT_OK


def _crl(args: argparse.Namespace) -> int:
    from gate.simulate.crl import issue_crl
    from gate.simulate.pki import load_pki

    crl = issue_crl(load_pki(args.dir), next_update_days=args.next_update_days)
    print(f"CRL of {len(crl)} entries written to {args.dir / 'csca.crl'}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from gate.files import read_regular_file
    from gate.icao.masterlist import load_master_list
    from gate.simulate.pki import load_certificate

    anchors = [load_certificate(path) for path in args.anchor]
    data = read_regular_file(args.master_list, "master list", max_bytes=16 << 20)
    certificates = load_master_list(data, str(args.master_list), anchors=anchors)
    args.out.mkdir(parents=True, exist_ok=True)
    for certificate in certificates:
        name = f"csca-{certificate.serial_number:x}"[:40] + ".pem"
        (args.out / name).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    print(f"{len(certificates)} CSCA certificates from {args.master_list} written to {args.out}")
    return EXIT_OK
