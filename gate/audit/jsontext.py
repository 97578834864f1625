"""JSON from a file an auditor was handed, parsed without trusting it.

``json.loads`` recurses once per ``[`` or ``{`` (100,000 levels end in ``RecursionError``),
turns a 5,000-digit integer into a ``ValueError`` (Python's int-to-str limit) and accepts
``NaN``, ``Infinity`` and repeated keys. Here the nesting is measured first with the values
layer's linear, non-recursive scan (``gate.json_files``), long numbers and non-finite
constants become marker values for the row check to name (``gate.json_files`` refuses them
outright: an audit export must say which row and field), and a repeated key is refused:
every problem is one ``AuditError`` line.
"""

from __future__ import annotations

import json

from gate.audit.rows import NonFinite, Oversized
from gate.errors import AuditError
from gate.json_files import json_nesting_depth

MAX_NUMBER_CHARS = 40  # a float's repr is at most 24 characters; an id at most 19 digits


class _RepeatedKeyError(ValueError):
    pass


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
    depth = json_nesting_depth(text, stop_above=len(text))  # the whole depth, for the line
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
