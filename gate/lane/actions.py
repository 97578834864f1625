"""An officer's action on a lane: the value the console submits, the lane applies between
travellers (``gate.lane.officer``) and the audit log records (``ports.AuditSink``).

It sits below both the officer's desk and the ports, so neither imports the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from gate.errors import InputError

ActionKind = Literal[
    "accept", "refuse", "acknowledge", "close_lane", "open_lane", "unreadable"
]  # fmt: skip
ACTION_KINDS: tuple[ActionKind, ...] = (
    "accept",
    "refuse",
    "acknowledge",
    "close_lane",
    "open_lane",
)
OFFICER_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,31}")
MAX_REASON = 200
ROLES = ("officer", "supervisor")  # the console's roles that act on a lane


@dataclass(frozen=True)
class OfficerAction:
    """What an officer decided. ``subject`` is the referral's transaction id (accept,
    refuse) or the alarm's id (acknowledge); empty for lane-wide actions."""

    kind: ActionKind
    officer: str
    reason: str
    subject: str = ""
    role: str = "officer"
    refused: str = ""  # why the lane refused it (a row of the audit log); empty: applied

    def __post_init__(self) -> None:
        if self.refused:  # what a refused command claimed: recorded as far as it is sane
            return
        if self.kind not in ACTION_KINDS or self.kind == "unreadable":
            raise InputError(f"officer action: unknown kind {self.kind!r}")
        if not OFFICER_NAME.fullmatch(self.officer):
            raise InputError("officer action: the officer's name is not a valid user name")
        if not self.reason.strip() or len(self.reason) > MAX_REASON:
            raise InputError(f"officer action: a reason of 1 to {MAX_REASON} characters is needed")
        if not self.reason.isprintable():
            raise InputError("officer action: the reason holds control characters")
        if not re.fullmatch(r"[A-Za-z0-9_-]{0,64}", self.subject):
            raise InputError("officer action: the subject is not a transaction or alarm id")
        if self.kind in ("accept", "refuse", "acknowledge") and not self.subject:
            raise InputError(f"officer action {self.kind}: which referral or alarm is missing")
        if self.role not in ROLES:
            raise InputError(f"officer action: the {self.role[:20]!r} role does not act on lanes")

    @classmethod
    def refusal(cls, claimed: dict[str, str], why: str) -> OfficerAction:
        """The audit row of a refused command: its claimed fields where sane, and why."""
        kind = claimed.get("action", "")
        officer = claimed.get("officer", "")
        subject = claimed.get("subject", "")
        return cls(
            kind=kind if kind in ACTION_KINDS else "unreadable",  # type: ignore[arg-type]
            officer=officer if OFFICER_NAME.fullmatch(officer) else "unknown",
            reason="",
            subject=subject if re.fullmatch(r"[A-Za-z0-9_-]{0,64}", subject) else "",
            role=claimed.get("role", "")[:20],
            refused=why[:MAX_REASON],
        )
