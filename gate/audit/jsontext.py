"""JSON from a file an auditor was handed, parsed without trusting it.

``json.loads`` recurses once per ``[`` or ``{`` (100,000 levels end in ``RecursionError``),
turns a 5,000-digit integer into a ``ValueError`` (Python's int-to-str limit) and accepts
``NaN``, ``Infinity`` and repeated keys. Here the nesting is measured first with a linear,
non-recursive scan, long numbers and non-finite constants become marker values for the row
check to name, and a repeated key is refused: every problem is one ``AuditError`` line.
"""

from __future__ import annotations

import json
import re

from gate.audit.rows import NonFinite, Oversized
from gate.errors import AuditError

MAX_NUMBER_CHARS = 40  # a float's repr is at most 24 characters; an id at most 19 digits

# Strings (closed ones, escapes included) are skipped in one step; only brackets count.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"', re.DOTALL)


class _RepeatedKeyError(ValueError):
    pass


def nesting_depth(text: str) -> int:
    """How deep ``text`` nests lists and objects (strings skipped); linear, no recursion."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        ch = token.group()
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
        elif ch == '"':
            break  # an unterminated string: json.loads says where
    return deepest


def _number(text: str) -> object:
    return int(text) if len(text) <= MAX_NUMBER_CHARS else Oversized(len(text.lstrip("-")))


def _float(text: str) -> object:
    return float(text) if len(text) <= MAX_NUMBER_CHARS else Oversized(len(text))


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _RepeatedKeyError(key)
        result[key] = value
    return result


def load_json(text: str, source: str, max_depth: int) -> object:
    """The value of ``text``, refused with one line naming ``source`` when it nests deeper
    than ``max_depth`` or is not JSON."""
    depth = nesting_depth(text)
    if depth > max_depth:
        raise AuditError(f"{source}: nested {depth} levels deep, at most {max_depth} expected")
    try:
        return json.loads(
            text,
            parse_int=_number,
            parse_float=_float,
            parse_constant=NonFinite,
            object_pairs_hook=_object,
        )
    except _RepeatedKeyError as exc:
        shown = "a field" if not str(exc).isidentifier() else f"field {exc}"
        raise AuditError(f"{source}: {shown} appears twice in one row") from exc
    except json.JSONDecodeError as exc:
        raise AuditError(f"{source}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    except (ValueError, RecursionError) as exc:  # defensive: the scan above bounds both
        raise AuditError(f"{source}: not usable JSON ({type(exc).__name__})") from exc
