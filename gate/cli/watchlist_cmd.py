"""``egate watchlist init / import / export / stats / add-face / sign`` (the watch store) and
``egate bench identify`` (1:N identification accuracy, ISO/IEC 19795-1).

The store's key comes from ``EGATE_WATCH_KEY`` or ``--key-file``; its folder from ``--store``
or ``EGATE_WATCH_STORE``. Heavy imports (numpy, faiss, the engine) stay in the handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from gate.cli import args as argtypes
from gate.cli.base import EXIT_OK, Registry
from gate.cli.bench_output import emit_json
from gate.cli.options import (
    add_json_flag,
    add_json_output,
    add_no_progress_option,
    add_pack_option,
    add_report_option,
    add_seed_option,
    add_threads_option,
    json_on_stdout,
)
from gate.errors import ConfigError, InputError

STORE_ENV = "EGATE_WATCH_STORE"


def register(registry: Registry) -> None:
    registry.group("watchlist", "document and person watchlists (the lane's checks stage)")
    p = registry.command("watchlist init", "create an empty watch store", _init)
    _store_options(p)
    p.add_argument(
        "--signer",
        type=argtypes.ed25519_key("watchlist signer", private=False),
        required=True,
        metavar="PUB.pem",
        help="the Ed25519 public key whose signed files the store imports",
    )
    add_pack_option(p, "the pack of the store's templates (default: fusion)")
    p.add_argument(
        "--new-key-file", type=Path, metavar="PATH", help="write a fresh key here (0600) and use it"
    )
    p = registry.command(
        "watchlist import", "import a signed watchlist file (a new version)", _import
    )
    p.add_argument("file", type=argtypes.regular_file, metavar="FILE")
    _store_options(p)
    p = registry.command(
        "watchlist export",
        "the current version's entries as JSON (references and keyed hashes; no templates)",
        _export,
    )
    _store_options(p)
    add_json_output(p, "the entries")
    p = registry.command("watchlist stats", "versions and lists of a watch store", _stats)
    _store_options(p)
    add_json_flag(p)
    p = registry.command(
        "watchlist add-face", "enrol the face of PHOTO on a person list", _add_face
    )
    p.add_argument("photo", type=argtypes.regular_file, metavar="PHOTO")
    p.add_argument("--list", required=True, dest="list_name", metavar="L")
    p.add_argument("--label", required=True, metavar="REF", help="the entry's reference")
    _store_options(p)
    p = registry.command(
        "watchlist add-faces",
        "enrol every picture of FOLDER on a person list through Ray (one new version)",
        _add_faces,
    )
    p.add_argument("folder", type=argtypes.directory, metavar="FOLDER")
    p.add_argument("--list", required=True, dest="list_name", metavar="L")
    p.add_argument(
        "--workers",
        type=argtypes.int_range(1, 4096, "workers"),
        default=2,
        metavar="N",
        help="Ray actors embedding the pictures, each with the pack loaded once (default 2)",
    )
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="a running Ray cluster ('auto' or host:port; default: a private local Ray)",
    )
    _store_options(p)
    add_no_progress_option(p)
    p = registry.command("watchlist sign", "sign a watchlist content file (issuers, tests)", _sign)
    p.add_argument("content", type=argtypes.regular_file, metavar="CONTENT.json")
    p.add_argument(
        "--key",
        type=argtypes.ed25519_key("watchlist signing key", private=True),
        required=True,
        metavar="KEY.pem",
        help="the issuer's Ed25519 private key (PEM)",
    )
    p.add_argument("-o", "--out", type=argtypes.output_file, required=True, metavar="FILE")
    _register_identify(registry)


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"the store folder (default: ${STORE_ENV})",
    )
    p.add_argument(
        "--key-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="the store's key (default: $EGATE_WATCH_KEY)",
    )


def _folder(args: argparse.Namespace) -> Path:
    if args.store is not None:
        return Path(args.store)
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV])
    raise ConfigError(f"no watch store: give --store DIR or set {STORE_ENV}")


def _open(args: argparse.Namespace) -> Any:
    from gate.watch.keys import load_key
    from gate.watch.store import WatchStore

    return WatchStore(_folder(args), load_key(args.key_file))


def _init(args: argparse.Namespace) -> int:
    from gate.pem_files import read_pem_bytes
    from gate.watch.keys import load_key, write_key_file
    from gate.watch.store import WatchStore
    from models.pack import load_manifest

    signer = read_pem_bytes(args.signer, "watchlist signer")
    folder = _folder(args)
    manifest = load_manifest(args.pack)
    if args.new_key_file is not None:
        write_key_file(args.new_key_file)
    key = load_key(args.new_key_file or args.key_file)
    store = WatchStore.init(folder, key, signer, manifest.id, manifest.embedding_size)
    print(f"watch store {store.folder}: pack {store.pack}, version 0")
    return EXIT_OK


def _naming(path: Path, exc: InputError) -> InputError:
    return InputError(str(exc).replace("watchlist file:", f"watchlist file {path}:", 1))


def _import(args: argparse.Namespace) -> int:
    from gate.files import read_regular_file
    from gate.watch.bundle import MAX_BUNDLE_BYTES, check_signature, open_envelope, parse_bundle

    data = read_regular_file(args.file, "watchlist file", max_bytes=MAX_BUNDLE_BYTES)
    try:
        envelope = open_envelope(data)  # a file that is no watchlist is refused first
        store = _open(args)
        content = check_signature(envelope, store.signer_key())
        bundle = parse_bundle(content, store.meta()["signer"], store.pack, store.embedding_size)
        version = store.import_bundle(bundle)
    except InputError as exc:
        raise _naming(args.file, exc) from exc
    print(
        f"imported issuer version {bundle.version} as store version {version}: "
        f"{len(bundle.documents)} documents, {len(bundle.persons)} persons"
    )
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from gate.watch.summary import export

    emit_json(export(_open(args)), args.json or "-")
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    from gate.watch.summary import stats as summary

    stats = summary(_open(args))
    if args.json:
        print(json.dumps(stats, indent=2))
        return EXIT_OK
    print(
        f"store {stats['store']}: pack {stats['pack']}, version {stats['current_version']}, "
        f"signer {stats['signer']}"
    )
    for entry in stats["lists"]:
        print(f"  {entry['name']} ({entry['kind']}): {entry['entries']} entries")
    return EXIT_OK


def _add_face(args: argparse.Namespace) -> int:
    from gate.images import load_image
    from models.engine import load_engine

    image = load_image(args.photo)
    store = _open(args)
    face = load_engine(store.pack).embed_one(image, policy="single")
    version = store.add_face(args.list_name, args.label, face.embedding)
    print(f"added to {args.list_name}: store version {version}")
    return EXIT_OK


def _add_faces(args: argparse.Namespace) -> int:
    from gate.cli.watchlist_folder import enrol_folder, scan_folder

    scan = scan_folder(args.folder)  # the folder first: a wrong one is named before the store
    done = enrol_folder(_open(args), args.folder, scan, args.list_name, workers=args.workers,
                        address=args.address, progress=not args.no_progress)  # fmt: skip
    ignored = f", {done.ignored} other entries ignored" if done.ignored else ""
    print(
        f"enrolled {done.enrolled} on {args.list_name}, skipped {done.skipped}{ignored}: "
        f"store version {done.version}"
    )
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gate.json_files import load_json_object
    from gate.pem_files import load_private_key
    from gate.watch.bundle import MAX_BUNDLE_BYTES, sign_bundle

    key = load_private_key(args.key, "watchlist signing key")
    assert isinstance(key, Ed25519PrivateKey)  # checked as the argument was parsed
    content = load_json_object(
        args.content, "watchlist content", max_bytes=MAX_BUNDLE_BYTES, error=InputError
    )
    Path(args.out).write_bytes(sign_bundle(content, key))
    print(f"signed watchlist written to {args.out}")
    return EXIT_OK


def _register_identify(registry: Registry) -> None:
    p = registry.command(
        "bench identify",
        "1:N identification (ISO/IEC 19795-1): FNIR at FPIR, rank-1, CMC, search latency",
        _identify,
    )
    p.add_argument(
        "--dataset",
        required=True,
        type=Path,
        metavar="PATH",
        help="any dataset 'bench accuracy' reads, with identities",
    )
    p.add_argument(
        "--root", type=argtypes.directory, metavar="DIR", help="image root of an LFW pairs.txt"
    )
    add_pack_option(p)
    add_seed_option(p, "seed of the split into enrolled and left-out identities (default 0)")
    p.add_argument(
        "--non-mated",
        type=argtypes.unit_interval,
        default=0.3,
        metavar="F",
        help="share of identities left out of the gallery (default 0.3)",
    )
    p.add_argument(
        "--index",
        choices=("exact", "pq", "hnsw", "ivf"),
        default="exact",
        help="search exactly or through a faiss index (the store's: pq) + exact re-rank",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="embedding shard cache (default: none; bench accuracy's is ~/.cache/egate/embeddings)",
    )
    add_threads_option(p)
    add_no_progress_option(p)
    add_json_output(p, "the report")
    add_report_option(p, "write report.md, report.json and det.png into DIR")


def _identify(args: argparse.Namespace) -> int:
    from bench.identify_report import run_identify

    report = run_identify(
        args.dataset,
        root=args.root,
        pack=args.pack,
        seed=args.seed,
        non_mated_share=args.non_mated,
        index=args.index,
        threads=args.threads,
        progress=not args.no_progress,
        cache=args.cache,
        report_dir=args.report,
    )
    emit_json(report, args.json)
    if not json_on_stdout(args.json):
        print(report["summary_line"])
    if args.report is not None:
        print(f"report: {args.report / 'report.md'}", file=sys.stderr)
    return EXIT_OK
