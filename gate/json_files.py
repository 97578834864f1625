"""JSON files from users (console accounts, pack manifests, revocation lists, passports),
read without trusting them.

``json.loads`` recurses once per ``[`` or ``{`` (100,000 levels end in ``RecursionError``),
turns a 5,000-digit integer into a ``ValueError`` and accepts ``NaN``, ``Infinity`` and
repeated keys. Here the file is read through ``gate.files`` (a regular file of bounded
size: never a FIFO, a device or a folder), decoded as strict UTF-8, its nesting measured
with a linear scan before it is parsed, and long numbers, non-finite constants and repeated
keys refused: every problem is one line naming the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from gate.errors import ConfigError, GateError
from gate.files import read_regular_file

MAX_JSON_BYTES = 4 * 1024 * 1024  # accounts, manifests, revocation lists: kilobytes
MAX_JSON_DEPTH = 32  # no file egate writes nests more than 4 levels
MAX_NUMBER_CHARS = 40  # a float's repr is at most 24 characters

# Closed strings (escapes included) are skipped in one step; only brackets count.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"', re.DOTALL)


class _Refused(ValueError):
    """A value the parser met that a file of egate's never holds."""


def json_nesting_depth(text: str, stop_above: int = MAX_JSON_DEPTH) -> int:
    """How deep ``text`` nests lists and objects (strings skipped): linear, not recursive,
    and it stops as soon as the depth passes ``stop_above``."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        ch = token.group()
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_above:
                break
        elif ch in "]}":
            depth -= 1
        elif ch == '"':
            break  # an unterminated string: json.loads says where
    return deepest


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} digits")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters")
    return float(text)


def _constant(text: str) -> object:
    raise _Refused(f"{text} is not a JSON number")


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            shown = f"key {key!r}" if len(key) <= 40 else "a key"
            raise _Refused(f"{shown} appears twice in one object")
        result[key] = value
    return result


def parse_json(
    text: str,
    source: str,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[GateError] = ConfigError,
) -> object:
    """The value of ``text``, refused with ``error`` naming ``source`` when it nests deeper
    than ``max_depth``, is not JSON, or holds NaN, Infinity, a number over 40 characters or
    a repeated key."""
    if json_nesting_depth(text, max_depth) > max_depth:
        raise error(f"{source}: not accepted: JSON nested more than {max_depth} levels deep")
    try:
        return json.loads(
            text,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except _Refused as exc:
        raise error(f"{source}: not accepted: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise error(f"{source}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    except (ValueError, RecursionError) as exc:  # the checks above bound both
        raise error(f"{source}: not usable JSON ({type(exc).__name__})") from exc


def decode_utf8(raw: bytes, source: str, error: type[GateError] = ConfigError) -> str:
    """``raw`` as strict UTF-8 text, or ``error`` naming ``source``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def load_json_file(
    path: Path,
    what: str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[GateError] = ConfigError,
) -> object:
    """The JSON value in the file ``path`` (``what`` names it in refusals: "console users
    file"): a regular file of at most ``max_bytes``, UTF-8, parsed like ``parse_json``."""
    raw = read_regular_file(path, what, max_bytes=max_bytes, error=error)
    source = f"{what} {path}"
    return parse_json(decode_utf8(raw, source, error), source, max_depth=max_depth, error=error)


def load_json_object(
    path: Path,
    what: str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[GateError] = ConfigError,
) -> dict[str, object]:
    """Like ``load_json_file``, and the value must be a JSON object."""
    value = load_json_file(path, what, max_bytes=max_bytes, max_depth=max_depth, error=error)
    if not isinstance(value, dict):
        raise error(f"{what} {path}: expected a JSON object, found {type(value).__name__}")
    return value
