"""TOML files from users (kiosk configs, scenarios), refused before they can hurt.

``tomllib`` recurses once per level of ``[`` and ``{`` and its dotted-key handling is
quadratic in the number of parts, so a hostile file is refused before it parses: at most
``MAX_TOML_BYTES``, UTF-8, nested at most ``MAX_TOML_DEPTH`` levels. No real config comes
near either limit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomllib

from gate.errors import ConfigError
from gate.files import read_regular_file

MAX_TOML_BYTES = 1 << 20  # a kiosk config or a scenario is a few kilobytes
MAX_TOML_DEPTH = 32


# What the depth scan stops at: brackets, dots (key parts), comments and string openers;
# after a dot also what ends a key (=, a comma, a line end). The rest is skipped in one step.
_TOML_SPECIAL = re.compile(r"""[\[\]{}.#"']""")
_TOML_SPECIAL_IN_KEY = re.compile(r"""[\[\]{}=,\n.#"']""")
# The rest of a string after its opener, closing quotes included; "unrolled" so that each
# runs in linear time even when the string never closes. A multi-line string may end in one
# or two more quotes that belong to its content.
_TOML_STRING_REST = {
    '"""': re.compile(r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""(?:""?)?', re.DOTALL),
    "'''": re.compile(r"[^']*(?:'(?!'')[^']*)*'''(?:''?)?"),
    '"': re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"'),
    "'": re.compile(r"[^'\n]*'"),
}


def toml_nesting_depth(text: str, stop_above: int = MAX_TOML_DEPTH) -> int:
    """An upper bound of how deep a TOML document nests: open ``[`` and ``{`` plus the parts
    of a dotted key (``a.b.c``), with strings and comments skipped. Linear in the text and
    never recursive, so it is safe on documents that would overflow ``tomllib``'s stack;
    it returns as soon as the depth passes ``stop_above``."""
    depth = deepest = dots = pos = 0
    while found := (_TOML_SPECIAL_IN_KEY if dots else _TOML_SPECIAL).search(text, pos):
        ch, pos = found.group(), found.end()
        if ch in "\"'":
            opener = text[found.start() : found.start() + 3]
            opener = opener if opener in ('"""', "'''") else ch
            closed = _TOML_STRING_REST[opener].match(text, found.start() + len(opener))
            if closed is None:
                break  # unterminated: tomllib stops there too, and says where
            pos = closed.end()
        elif ch == "#":
            newline = text.find("\n", pos)
            pos = len(text) if newline < 0 else newline
        elif ch == ".":
            dots += 1  # each part of a dotted key is a level (a float's one dot costs one)
        elif ch in "[{":
            depth, dots = depth + 1, 0
        elif ch in "]}":
            depth, dots = max(0, depth - 1), 0
        else:  # "=", "," or a line end: a key or a value ends
            dots = 0
        deepest = max(deepest, depth + dots)
        if deepest > stop_above:
            break
    return deepest


def load_toml(path: Path, what: str) -> dict[str, Any]:
    """Read a TOML file for ``what`` ("config file", "scenario"): a regular file of at most
    ``MAX_TOML_BYTES``, UTF-8, nested at most ``MAX_TOML_DEPTH`` levels deep; otherwise a
    ``ConfigError`` naming the file."""
    raw = read_regular_file(path, what, max_bytes=MAX_TOML_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text ({exc.reason})") from exc
    depth = toml_nesting_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise ConfigError(f"{path}: not accepted: nested more than {MAX_TOML_DEPTH} levels deep")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError as exc:  # the scan above should have refused it; never a traceback
        raise ConfigError(f"{path}: not accepted: nested too deep to parse") from exc
