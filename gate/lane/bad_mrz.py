"""A printed MRZ the lane cannot use (issue 25: a bad scan used to vanish): what it says
about it, naming the field and never the value (this text reaches the log, the audit log
and the console), and the prompt for the traveller's screen."""

from __future__ import annotations

import re

from gate.errors import DocumentError

PLACE_AGAIN = "please place the passport again"

# parse_mrz's messages that quote what was read: each kept without the quoted value.
_VALUE_FREE = (
    (
        re.compile(r"^MRZ: line (\d+) contains .*"),
        r"MRZ: line \1 has a character that is not allowed",
    ),
    (re.compile(r"^MRZ: character .* is not allowed.*"), "MRZ: a character that is not allowed"),
    (re.compile(r"^MRZ: sex .* is not M, F or '<'"), "MRZ: sex is not M, F or '<'"),
)
# Those that name only a field or a shape (parse_mrz never quotes a value in them).
_NAMES_A_FIELD = re.compile(
    r"^MRZ: (check digit of [a-z ]+ does not match|[a-z ]+ is not a YYMMDD date"
    r"|[a-z ]+ has no valid month/day|expected 2 lines of 44 .*, got [0-9 x]+|[a-z ]+ has "
    r"characters outside A-Z, 0-9|[a-z ]+ is longer than \d+ characters|the document number "
    r"is not valid .*|document number check digit is '<' but no continuation)$"
)


class UnreadableMrz(DocumentError):
    """The printed MRZ does not parse; ``problem`` names the field (or the shape)."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"printed MRZ unreadable ({problem})")
        self.problem = problem


def mrz_problem(exc: DocumentError) -> str:
    """What was wrong with a printed MRZ, without any of its characters."""
    text = str(exc)
    for pattern, replacement in _VALUE_FREE:
        if pattern.match(text):
            return pattern.sub(replacement, text).removeprefix("MRZ: ")
    if _NAMES_A_FIELD.match(text):
        return text.removeprefix("MRZ: ")
    return "not an MRZ"
