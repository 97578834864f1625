"""ISO/IEC 7816-4 status words, named once for both sides: the card emulator answers with
them and the reader checks and reports them (ICAO Doc 9303 part 11 names the ones PACE, BAC
and Chip Authentication use).

``StatusWord`` is an ``IntEnum``: a parsed response's ``sw`` (an int) compares equal to its
member, ``.raw`` is the two bytes a card sends, and ``describe`` names any status word,
known or not, for messages and the APDU trace.
"""

from __future__ import annotations

from enum import IntEnum


class StatusWord(IntEnum):
    OK = 0x9000
    END_OF_FILE = 0x6282  # fewer bytes than Le: the end of the file was reached
    AUTH_FAILED = 0x6300  # verification failed (BAC, PACE: a wrong password)
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS = 0x6982  # security status not satisfied
    CONDITIONS = 0x6985  # conditions of use not satisfied
    NO_CURRENT_EF = 0x6986  # command not allowed: no current EF
    SM_MISSING = 0x6987  # expected secure-messaging objects missing
    SM_WRONG = 0x6988  # secure-messaging objects incorrect (a wrong MAC)
    WRONG_DATA = 0x6A80
    NOT_FOUND = 0x6A82  # file or application not found
    WRONG_P1P2 = 0x6A86
    REF_NOT_FOUND = 0x6A88  # referenced data (a key) not found
    WRONG_OFFSET = 0x6B00
    INS_UNKNOWN = 0x6D00
    CLA_UNKNOWN = 0x6E00

    @property
    def raw(self) -> bytes:
        """SW1 SW2 as the card sends them."""
        return int(self).to_bytes(2, "big")

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    StatusWord.OK: "success",
    StatusWord.END_OF_FILE: "end of file reached",
    StatusWord.AUTH_FAILED: "authentication failed",
    StatusWord.WRONG_LENGTH: "wrong length",
    StatusWord.SECURITY_STATUS: "security status not satisfied",
    StatusWord.CONDITIONS: "conditions of use not satisfied",
    StatusWord.NO_CURRENT_EF: "no current EF",
    StatusWord.SM_MISSING: "secure messaging objects missing",
    StatusWord.SM_WRONG: "secure messaging objects incorrect",
    StatusWord.WRONG_DATA: "wrong data",
    StatusWord.NOT_FOUND: "file not found",
    StatusWord.WRONG_P1P2: "wrong P1/P2",
    StatusWord.REF_NOT_FOUND: "referenced data not found",
    StatusWord.WRONG_OFFSET: "offset outside the file",
    StatusWord.INS_UNKNOWN: "instruction not supported",
    StatusWord.CLA_UNKNOWN: "class not supported",
}

# Secure messaging broke down: the chip rejected our objects (the session is over).
SM_ERRORS = frozenset({StatusWord.SM_MISSING, StatusWord.SM_WRONG})


def is_status_word(sw: int) -> bool:
    """Whether ``sw`` can come from an ISO 7816 chip at all (SW1 61..6F or 90)."""
    return 0x61 <= sw >> 8 <= 0x6F or sw >> 8 == 0x90


def is_auth_failure(sw: int) -> bool:
    """A refused password or key: 6300, 63Cx (tries left) or 6982."""
    return sw >> 8 == 0x63 or sw == StatusWord.SECURITY_STATUS


def describe(sw: int) -> str:
    """``"6A82 (file not found)"``; a status word not in the table only by its hex."""
    try:
        return f"{sw:04X} ({StatusWord(sw).label})"
    except ValueError:
        if sw >> 8 == 0x63 and sw & 0xF0 == 0xC0:
            return f"{sw:04X} (authentication failed, {sw & 0x0F} tries left)"
        if sw >> 8 == 0x61:
            return f"{sw:04X} ({sw & 0xFF} more bytes available)"
        if sw >> 8 == 0x6C:
            return f"{sw:04X} (wrong Le, {sw & 0xFF} bytes available)"
        return f"{sw:04X}"
