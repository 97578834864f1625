"""CSV text from users (pairs lists, audit exports), read without trusting it.

``csv`` raises its own ``csv.Error`` for a field over its limit (128 KiB), a NUL byte or a
quote left open, which is neither a ``ValueError`` nor an ``OSError``: unhandled it is a
traceback. Here the file comes through ``gate.files`` (a regular file of bounded size),
is decoded as strict UTF-8, and every ``csv.Error`` becomes one line naming the file and
the line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from gate.errors import ConfigError, GateError
from gate.files import read_regular_file

MAX_CSV_BYTES = 256 * 1024 * 1024
MAX_CSV_FIELD = 128 * 1024  # csv's own default limit, stated


class CsvRows:
    """The header and the rows of a CSV text, as dicts, with their line numbers; a
    ``csv.Error`` is ``error`` naming ``source`` and the line."""

    def __init__(self, text: str, source: str, error: type[GateError] = ConfigError) -> None:
        self.source, self._error = source, error
        csv.field_size_limit(MAX_CSV_FIELD)
        self._reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        self.header = [name.strip() for name in self._next() or []]

    def _next(self) -> list[str] | None:
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            where = f"{self.source}:{self._reader.line_num}"
            raise self._error(f"{where}: not readable CSV ({exc})") from exc

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        while (row := self._next()) is not None:
            if not row:
                continue  # a blank line
            yield self._reader.line_num, dict(zip(self.header, row, strict=False))


def load_csv(
    path: Path,
    what: str,
    *,
    max_bytes: int = MAX_CSV_BYTES,
    error: type[GateError] = ConfigError,
) -> CsvRows:
    """The rows of the CSV file ``path`` (a regular file of at most ``max_bytes``, UTF-8
    with or without a byte-order mark)."""
    raw = read_regular_file(path, what, max_bytes=max_bytes, error=error)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: cannot read {what} (not UTF-8: {exc.reason})") from exc
    return CsvRows(text, str(path), error)
