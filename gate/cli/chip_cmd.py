"""``egate pki init``, ``egate passport issue``, ``egate chip serve``, ``egate chip read``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gate.cli import args as argtypes
from gate.cli.base import EXIT_FAILURE, EXIT_OK, Registry
from gate.cli.options import add_json_flag, add_output_option
from gate.errors import InputError

if TYPE_CHECKING:
    from gate.icao.mrz import Mrz


# The N-th APDU or response of a fault option (0: at once).
apdu_number = argtypes.int_range(0, 10**9, "APDU number")


def register(registry: Registry) -> None:
    registry.group("pki", "test PKI for virtual passports")
    p = registry.command("pki init", "create a test CSCA and Document Signer in DIR", _pki_init)
    p.add_argument("dir", type=Path)
    p.add_argument("--algorithm", choices=("ecdsa", "rsa"), default="ecdsa")
    p.add_argument("--country", default="UTO", help="issuing state, MRZ alpha-3 (default UTO)")
    p.add_argument("--force", action="store_true", help="replace the keys of an existing PKI")

    registry.group("passport", "virtual passports")
    p = registry.command("passport issue", "write a virtual passport folder", _passport_issue)
    p.add_argument(
        "--photo",
        type=argtypes.regular_file,
        required=True,
        help="face photo (JPEG/JP2 kept as is)",
    )
    p.add_argument("--surname", required=True)
    p.add_argument("--given-names", required=True)
    p.add_argument("--nationality", required=True, help="alpha-3, e.g. UTO, DEU")
    p.add_argument("--issuing-state", help="alpha-3; default: the nationality")
    p.add_argument("--birth", required=True, help="YYMMDD")
    p.add_argument("--sex", required=True, choices=("M", "F", "<"))
    p.add_argument("--expiry", required=True, help="YYMMDD")
    p.add_argument("--issued", help="date of issue, YYMMDD (the SOD's signing time; default today)")
    p.add_argument("--number", required=True, help="document number")
    p.add_argument(
        "--pki", type=argtypes.directory, required=True, help="folder made by 'egate pki init'"
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--aa", choices=("ecdsa", "rsa", "none"), default="ecdsa")
    p.add_argument(
        "--pace", action="store_true", help="offer PACE in EF.CardAccess (= --access bac+pace)"
    )
    p.add_argument(
        "--document",
        choices=("td1", "td2", "td3"),
        default="td3",
        help="MRZ format: td1 (ID card), td2, td3 (passport, default)",
    )
    p.add_argument(
        "--access",
        choices=("bac", "bac+pace", "pace-only"),
        help="chip access control (default: bac, or bac+pace with --pace or --can)",
    )
    p.add_argument(
        "--ca",
        choices=("ecdh", "dh", "none"),
        default="ecdh",
        help="Chip Authentication key in DG14 (default ecdh, brainpoolP256r1)",
    )
    p.add_argument("--can", type=_can, help="card access number (6 digits) for PACE")
    p.add_argument("--cam", action="store_true", help="offer PACE chip authentication mapping too")
    p.add_argument("--place-of-birth", help="DG11: place of birth")
    p.add_argument("--issuing-authority", help="DG12: issuing authority")

    registry.group("chip", "ePassport chips: virtual card and reader")
    p = registry.command("chip serve", "present a virtual passport on vpcd until stopped", _serve)
    p.add_argument("passport", type=argtypes.directory, help="folder made by 'passport issue'")
    p.add_argument(
        "--port",
        type=argtypes.port,
        default=None,
        help="vpcd port (35963: 'Virtual PCD 00 00'; default: the first free vpcd reader)",
    )
    p.add_argument(
        "--seconds",
        type=argtypes.positive_duration,
        help="stop after this long (default: until Ctrl-C)",
    )
    p.add_argument(
        "--link-kbps",
        type=argtypes.float_range(0.0, 100_000.0, "link speed in kbit/s", low_open=True),
        help="emulate a 106/424 kbit/s link",
    )
    p.add_argument("--remove-after", type=apdu_number, help="fault: card removed after N APDUs")
    p.add_argument(
        "--corrupt-dg",
        type=argtypes.int_range(1, 16, "data group"),
        help="fault: flip a byte of this data group",
    )
    p.add_argument("--bad-mac", type=apdu_number, help="fault: wrong MAC on the N-th SM response")
    p.add_argument("--garbage", type=apdu_number, help="fault: random answers from the N-th APDU")
    p.add_argument("--pace-only", action="store_true", help="refuse BAC (PACE-only chip)")
    p.add_argument(
        "--clone",
        action="store_true",
        help="present a cloned chip: same data, CA and AA keys that do not match DG14/DG15",
    )

    p = registry.command("chip read", "read and authenticate a passport chip", _read)
    p.add_argument(
        "--reader",
        default="pcsc",
        help="reader address, as reader.address in the kiosk config: pcsc (the first PC/SC "
        "reader, default), pcsc:NAME (NAME or part of it; a bare NAME works too), pcsc:N "
        "(the N-th reader, from 0), "
        "emulator:FOLDER (a passport folder, without PC/SC)",
    )
    p.add_argument(
        "--trace",
        action="store_true",
        help="print every APDU to stderr (headers, status words, lengths; no payloads)",
    )
    p.add_argument("--mrz", help="the MRZ lines (newline or '|' separated)")
    p.add_argument("--number", help="document number (with --birth and --expiry)")
    p.add_argument("--birth", help="YYMMDD")
    p.add_argument("--expiry", help="YYMMDD")
    p.add_argument("--can", type=_can, help="card access number (PACE; ID cards)")
    p.add_argument(
        "--trust", type=argtypes.directory, help="folder of trusted CSCA certificates and CRLs"
    )
    add_json_flag(p, "print one JSON object")
    add_output_option(p, "--photo-out", help="write the DG2 image (as stored) here")
    p.add_argument(
        "--timeout", type=argtypes.timeout, default=10.0, help="seconds to wait for a card"
    )
    p.add_argument("--no-photo", action="store_true", help="skip DG2")
    p.add_argument(
        "--chunk",
        type=argtypes.int_range(1, 0xFFFF, "READ BINARY size"),
        default=0xDF,
        help="READ BINARY size; >231 uses extended length",
    )


def _can(text: str) -> str:
    if not (len(text) == 6 and argtypes.is_ascii_digits(text)):
        raise argparse.ArgumentTypeError("the card access number is 6 digits")
    return text


def _pki_init(args: argparse.Namespace) -> int:
    from gate.simulate.pki import init_pki

    pki = init_pki(args.dir, country=args.country, algorithm=args.algorithm, overwrite=args.force)
    print(f"CSCA {pki.csca_certificate.subject.rfc4514_string()}")
    print(f"DS   {pki.ds_certificate.subject.rfc4514_string()}")
    print(f"written to {args.dir} (test keys, unencrypted)")
    return EXIT_OK


def _passport_issue(args: argparse.Namespace) -> int:
    from gate.simulate.issue import issue_passport
    from gate.simulate.issue_checks import issued_at

    issued = issue_passport(
        args.out,
        pki=args.pki,
        photo=args.photo,
        surname=args.surname,
        given_names=args.given_names,
        nationality=args.nationality,
        issuing_state=args.issuing_state,
        birth_date=args.birth,
        sex=args.sex,
        expiry_date=args.expiry,
        document_number=args.number,
        aa=args.aa,
        offer_pace=args.pace or args.can is not None or args.cam,
        pace_cam=args.cam,
        access=args.access,
        ca=args.ca,
        can=args.can,
        document=args.document,
        dg11={"place_of_birth": args.place_of_birth} if args.place_of_birth else None,
        dg12={"issuing_authority": args.issuing_authority} if args.issuing_authority else None,
        signing_time=issued_at(args.issued) if args.issued is not None else None,
    )
    print("\n".join(issued.mrz.lines))
    print(f"passport written to {args.out} (DG2 image {len(issued.photo)} bytes)")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from drivers.chip.passport_folder import load_passport_folder
    from drivers.chip.pcscd import ensure_pcscd
    from drivers.chip.vpcd import VpcdCardLink

    card = load_passport_folder(
        args.passport,
        link_kbps=args.link_kbps,
        remove_after_apdus=args.remove_after,
        corrupt_dg=args.corrupt_dg,
        bad_mac=args.bad_mac,
        garbage=args.garbage,
        clone=args.clone,
        **({"pace_only": True} if args.pace_only else {}),
    )
    stop = threading.Event()
    # Explicit handlers: a process started in the background by a shell, or by a test
    # runner, may inherit SIGINT ignored, and then Ctrl-C's KeyboardInterrupt never comes.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    with ensure_pcscd() as status, VpcdCardLink(card, port=args.port) as link:
        where = "started here" if status.started_here else "already running"
        print(f"presenting {args.passport} on '{link.reader_name}' (pcscd {where}); Ctrl-C stops")
        sys.stdout.flush()
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while link.running and (deadline is None or time.monotonic() < deadline):
            if stop.wait(0.2):
                break
        print(f"served {link.apdus} APDUs")
        if link.error is not None:
            print(f"egate: the virtual card failed: {link.error}", file=sys.stderr)
            return EXIT_FAILURE
    return EXIT_OK


def _mrz_from_args(args: argparse.Namespace) -> Mrz | None:
    from gate.icao.mrz import access_mrz, parse_mrz

    if args.mrz:
        return parse_mrz(args.mrz.replace("|", "\n"))
    if args.number and args.birth and args.expiry:
        return access_mrz(args.number, args.birth, args.expiry)
    if args.can:
        return None
    raise InputError("chip read: give --mrz, --number with --birth and --expiry, or --can")


def _reader_address(value: str) -> str:
    """``--reader``: a reader address; a bare reader name (what ``--reader`` took before
    it took addresses) still names that PC/SC reader."""
    from drivers.chip.registry import BACKENDS

    return value if ":" in value or value in BACKENDS else f"pcsc:{value}"


def _read(args: argparse.Namespace) -> int:
    from drivers.chip.registry import open_reader
    from gate.icao.reader import TrustStore, read_passport
    from gate.icao.trace import ApduTrace

    mrz = _mrz_from_args(args)
    trust = TrustStore.from_folder(args.trust) if args.trust else None
    trace = ApduTrace(lambda line: print(line, file=sys.stderr, flush=True))
    connector = open_reader(_reader_address(args.reader), timeout=args.timeout)
    try:
        transport = connector()
        try:
            result = read_passport(
                transport,
                mrz,
                trust,
                read_photo=not args.no_photo,
                chunk_size=args.chunk,
                can=args.can,
                observers=(trace,) if args.trace else (),
            )
        finally:
            transport.close()
    finally:
        connector.close()
    if args.photo_out and result.photo_bytes is not None:
        Path(args.photo_out).write_bytes(result.photo_bytes)
    dg1 = result.dg1
    document = {
        "type": dg1.document_type,
        "issuing_state": dg1.issuing_state,
        "number": dg1.document_number,
        "surname": dg1.surname,
        "given_names": dg1.given_names,
        "nationality": dg1.nationality,
        "birth_date": dg1.birth_date,
        "sex": dg1.sex,
        "expiry_date": dg1.expiry_date,
    }
    report = {
        "document": document,
        "data_groups": list(result.data_groups),
        "photo": None
        if result.photo is None
        else {"width": result.photo.shape[1], "height": result.photo.shape[0]},
        "photo_error": result.photo_error,
        "passive_auth": {
            "status": result.passive_auth.status,
            "reason": result.passive_auth.reason,
            "hashes": {f"DG{k}": v for k, v in result.passive_auth.data_group_hashes.items()},
            "document_signer": result.passive_auth.document_signer,
            "revoked_on": result.passive_auth.revoked_on or None,
        },
        "active_auth": {"status": result.active_auth.status, "reason": result.active_auth.reason},
        "chip_auth": {
            "status": result.chip_auth.status,
            "reason": result.chip_auth.reason,
            "algorithm": result.chip_auth.algorithm,
        },
        "access": {
            "protocol": result.access.protocol,
            "mapping": result.access.mapping,
            "cipher": result.access.cipher,
            "domain": result.access.domain,
            "password": result.access.password,
        },
        "dg11": result.dg11,
        "dg12": result.dg12,
        "pace_offered": result.pace_offered,
        "printed_mrz_matches": result.printed_mrz_matches,
        "apdus": result.apdus,
        "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in document.items():
            print(f"{key:14} {value}")
        print(f"{'data groups':14} {', '.join(f'DG{n}' for n in result.data_groups)}")
        print(f"{'photo':14} {report['photo'] or result.photo_error}")
        print(f"{'passive auth':14} {result.passive_auth.status}: {result.passive_auth.reason}")
        print(f"{'active auth':14} {result.active_auth.status}: {result.active_auth.reason}")
        print(f"{'chip auth':14} {result.chip_auth.status}: {result.chip_auth.reason}")
        access = result.access
        via = f"{access.protocol} {access.mapping or ''} {access.cipher}".replace("  ", " ")
        print(f"{'access':14} {via} ({access.password})")
        if result.printed_mrz_matches is False:
            print(f"{'printed MRZ':14} DIFFERS from DG1")
        timing = ", ".join(f"{k} {v:.1f}" for k, v in result.timings_ms.items())
        print(f"{'timings (ms)':14} {timing}")
    ok = (
        result.passive_auth.status == "valid"
        and "invalid" not in (result.active_auth.status, result.chip_auth.status)
        and result.printed_mrz_matches is not False
    )
    return EXIT_OK if ok else EXIT_FAILURE
