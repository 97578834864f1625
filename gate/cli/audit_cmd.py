"""``egate audit export`` and ``egate audit verify``: the audit log for auditors.

Both open the database read-only: they create no secret, table or journal, and work for an
auditor who may only read the database. ``verify`` needs the installation's secret file (or
the ``--salt`` copy an operator hands over) to check the MAC chain.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from gate.cli import args as argtypes
from gate.cli.base import EXIT_FAILURE, EXIT_OK, Registry
from gate.errors import AuditError, InputError

if TYPE_CHECKING:
    from gate.audit import ChainReport


def _parse_since(text: str) -> float:
    """Accept a Unix time or an ISO 8601 date/time (UTC when no zone is given)."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise InputError(f"--since {text!r} is not a finite time")
        return value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            f"--since {text!r} is neither a Unix time nor an ISO date (2026-11-26T08:00)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _write_output(path: Path, text: str) -> None:
    """Write the export without following a planted symlink or replacing a folder."""
    if path.is_dir():
        raise InputError(f"--output {path} is a folder; name a file")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise InputError(f"--output {path}: cannot write: {exc.strerror}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _export(args: argparse.Namespace) -> int:
    from gate.audit import AuditLog

    since = _parse_since(args.since) if args.since else None
    with AuditLog.open_readonly(Path(args.db), args.salt) as log:
        text = log.export(args.format, since)
    if args.output:
        _write_output(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from gate.audit import AuditLog, ChainReport, ForgedCheckpointError

    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    try:
        if args.export:
            report = _verify_export(Path(args.export), args.salt, checkpoint)
        else:
            if args.db is None:
                raise InputError("name the log: --db PATH (or --export FILE with --salt)")
            with AuditLog.open_readonly(Path(args.db), args.salt) as log:
                report = log.verify(checkpoint)
    except ForgedCheckpointError as exc:  # evidence, not a usage error: the answer is "no"
        report = ChainReport.broken(0, str(exc))
    print(report.describe())
    return EXIT_OK if report.ok else EXIT_FAILURE


def _verify_export(source: Path, salt: str | None, checkpoint: Path | None) -> ChainReport:
    from gate.audit import chain_key, head_key, read_head, verify_chain
    from gate.audit.export import read_export
    from gate.audit.secret import load_secret

    if salt is None:
        raise InputError("--export needs --salt: the secret file of the log it came from")
    secret = load_secret(Path(salt))
    if secret is None:
        raise AuditError(f"secret file {salt} does not exist or cannot be read")
    head = None if checkpoint is None else read_head(checkpoint, head_key(secret))
    return verify_chain(chain_key(secret), read_export(source), head)


def _log_arguments(p: argparse.ArgumentParser, *, db_required: bool) -> None:
    """``--db`` and ``--salt``, which every audit command takes the same way."""
    p.add_argument(
        "--db",
        type=argtypes.regular_file,
        required=db_required,
        default=None,
        help="the audit database (SQLite), opened read-only",
    )
    p.add_argument(
        "--salt",
        type=argtypes.regular_file,
        default=None,
        help="secret file (default: beside the database)",
    )


def register(registry: Registry) -> None:
    registry.group("audit", "the transaction audit log")
    p = registry.command("audit export", "export the audit chain as CSV or JSON", _export)
    _log_arguments(p, db_required=True)
    p.add_argument("--since", default=None, help="Unix time or ISO date/time (UTC)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    # Its own check (``_write_output``): never through a planted symlink, never a folder.
    p.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")

    p = registry.command(
        "audit verify", "check the audit chain: names the first row changed", _verify
    )
    _log_arguments(p, db_required=False)
    p.add_argument(
        "--export",
        type=argtypes.regular_file,
        default=None,
        help="or a JSON or CSV export of it (needs --salt)",
    )
    p.add_argument(
        "--checkpoint",
        type=argtypes.regular_file,
        default=None,
        help="a signed chain head (the .head file the writer keeps): names rows missing "
        "at the end and a chain rewritten after it",
    )
