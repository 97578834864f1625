"""What ``issue_passport`` checks before it writes anything: every field the reader and the
gate will check, so that a passport that cannot be read back, or that contradicts its
options, is refused in one line instead of written.

The messages name the field, never its value (document numbers and names stay out of logs).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from drivers.chip.passport_folder import MAX_FILE_BYTES
from gate.decision import expiry_to_date
from gate.errors import DocumentError
from gate.icao.country import alpha2, nationality_code, state_code
from gate.icao.pace_groups import standard_group
from gate.icao.reader import MAX_FILE
from gate.simulate.pki import TestPki, certificate_country

Access = Literal["bac", "bac+pace", "pace-only"]
# The largest LDS file (DG2 included) that the virtual chip loads and the reader accepts.
MAX_LDS_FILE = min(MAX_FILE, MAX_FILE_BYTES)
_NAME = re.compile(r"[A-Z][A-Z <-]*")
_NUMBER = re.compile(r"[A-Z0-9]+")
_YYMMDD = re.compile(r"[0-9]{6}")
# EF.SOD's signing time is a UTCTime: 1950 at the earliest.
EARLIEST_ISSUE = dt.date(1950, 1, 1)
NUMBER_LENGTH = 9  # the MRZ's document number field (TD1, TD2, TD3)


@dataclass(frozen=True)
class Holder:
    """The MRZ fields after the checks: codes upper case without fillers."""

    surname: str
    given_names: str
    document_number: str
    nationality: str
    issuing_state: str


def check_holder(
    *,
    surname: str,
    given_names: str,
    document_number: str,
    nationality: str,
    issuing_state: str | None,
    birth_date: str,
    expiry_date: str,
    issued_on: dt.date,
    today: dt.date,
) -> Holder:
    """The holder's fields as the MRZ will carry them; ``DocumentError`` naming the first one
    that the MRZ cannot carry or that the reader or the gate would refuse."""
    if issued_on < EARLIEST_ISSUE:
        raise DocumentError("date of issue (the SOD's signing time) is before 1950")
    nationality = nationality_code(nationality, "nationality")
    state = state_code(issuing_state if issuing_state is not None else nationality, "issuing state")
    _past("birth date", birth_date, issued_on)  # a calendar date, on or before the issue
    expiry = _expiry(expiry_date, today)
    if expiry <= issued_on:
        raise DocumentError(
            f"expiry date {expiry:%Y-%m-%d} is not after the date of issue {issued_on:%Y-%m-%d} "
            "(an expired document needs an earlier date of issue: --issued)"
        )
    return Holder(
        surname=_name("surname", surname, required=True),
        given_names=_name("given names", given_names, required=False),
        document_number=_number(document_number),
        nationality=nationality,
        issuing_state=state,
    )


def _name(what: str, value: str, *, required: bool) -> str:
    text = value.strip()
    if not text.isascii():
        raise DocumentError(
            f"{what}: the MRZ carries only the letters A-Z (transliterate, Doc 9303-3)"
        )
    text = text.upper()
    mrz = text.replace(" ", "<").replace("-", "<")
    if required and not mrz.replace("<", ""):
        raise DocumentError(f"{what} is empty")
    if text and not _NAME.fullmatch(text):
        raise DocumentError(
            f"{what}: only letters A-Z, spaces and hyphens, starting with a letter "
            "(no digits or signs)"
        )
    if what == "surname" and "<<" in mrz:
        # "<<" ends the primary identifier: the reader would split the surname there.
        raise DocumentError(f"{what}: two separators in a row would end the surname early")
    return text


def _number(value: str) -> str:
    text = value.strip().upper()
    if not text:
        raise DocumentError("document number is empty")
    if not text.isascii() or not _NUMBER.fullmatch(text):
        raise DocumentError("document number: only A-Z and 0-9 (no spaces, '<' or signs)")
    if len(text) > NUMBER_LENGTH:
        raise DocumentError(
            f"document number has {len(text)} characters; the MRZ holds {NUMBER_LENGTH}"
        )
    return text


def _digits(what: str, value: str) -> tuple[int, int, int]:
    if not (value.isascii() and _YYMMDD.fullmatch(value)):
        raise DocumentError(f"{what} is not a YYMMDD date")
    return int(value[:2]), int(value[2:4]), int(value[4:])


def _past(what: str, value: str, until: dt.date) -> dt.date:
    """A YYMMDD date in the century that puts it on or before ``until``."""
    yy, month, day = _digits(what, value)
    year = 2000 + yy if (2000 + yy, month, day) <= until.timetuple()[:3] else 1900 + yy
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise DocumentError(f"{what} is not a calendar date ({exc})") from exc


def issued_at(value: str, today: dt.date | None = None) -> dt.datetime:
    """A date of issue (YYMMDD, today or before) as the SOD's signing time, noon UTC."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    day = _past("date of issue", value, today)
    if day < EARLIEST_ISSUE:
        raise DocumentError("date of issue is not between 1950 and today")
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc)


def _expiry(value: str, today: dt.date) -> dt.date:
    """The expiry date as the gate reads it (``gate.decision.expiry_to_date``)."""
    _digits("expiry date", value)
    try:
        return expiry_to_date(value, today)
    except DocumentError as exc:
        raise DocumentError("expiry date is not a calendar date") from exc


def check_issuer(pki: TestPki, issuing_state: str) -> None:
    """Passive authentication requires DG1's issuing state to be the DS's and the CSCA's
    country: a passport of another state under this PKI would never verify."""
    wanted = alpha2(issuing_state)
    for role, certificate in (("CSCA", pki.csca_certificate), ("DS", pki.ds_certificate)):
        country = certificate_country(certificate)
        if country != wanted:
            raise DocumentError(
                f"issuing state {issuing_state} ({wanted}) is not the country of the PKI's "
                f"{role} ({country or 'none'}): passive authentication would fail"
            )


def check_access(
    access: str | None,
    *,
    offer_pace: bool,
    pace_cam: bool,
    can: str | None,
    ca: str,
    pace_parameter_id: int,
) -> Access:
    """The chip's access control after the checks: options that would be silently dropped
    (PACE or PACE-CAM on a BAC-only chip) or could not work are refused."""
    if can is not None and not (len(can) == 6 and can.isascii() and can.isdigit()):
        raise DocumentError("CAN: the card access number is 6 digits")
    mode = access or ("bac+pace" if offer_pace or pace_cam else "bac")
    if mode not in ("bac", "bac+pace", "pace-only"):
        raise DocumentError(f"access {mode!r} is not 'bac', 'bac+pace' or 'pace-only'")
    chosen: Access = (
        "pace-only" if mode == "pace-only" else "bac+pace" if mode == "bac+pace" else "bac"
    )
    if can is not None and chosen == "bac":
        raise DocumentError("a CAN needs PACE: issue with access 'bac+pace' or 'pace-only'")
    if chosen == "bac" and (offer_pace or pace_cam):
        what = "PACE chip authentication mapping (--cam)" if pace_cam else "PACE (--pace)"
        raise DocumentError(
            f"{what} contradicts access 'bac' (no PACE): issue with 'bac+pace' or 'pace-only'"
        )
    if ca not in ("ecdh", "dh", "none"):
        raise DocumentError(f"CA algorithm {ca!r} is not 'ecdh', 'dh' or 'none'")
    if chosen != "bac":
        kind = standard_group(pace_parameter_id).kind
        if pace_cam and (ca != "ecdh" or kind != "ECDH"):
            raise DocumentError(
                "PACE-CAM needs an ECDH Chip Authentication key (ca='ecdh') and an ECDH group"
            )
    return chosen


def check_details(group: int, values: dict[str, str] | None) -> None:
    """DG11 / DG12 values are UTF-8 text: a non-UTF-8 argument (surrogate escapes) is refused."""
    for field, value in (values or {}).items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DocumentError(f"DG{group} {field}: not UTF-8 text") from exc


def check_files(files: dict[int, bytes], names: dict[int, str]) -> None:
    """Every LDS file within what the virtual chip loads and the reader reads."""
    for fid, data in sorted(files.items()):
        if len(data) > MAX_LDS_FILE:
            name = names.get(fid, f"EF {fid:04X}")
            hint = ": use a smaller --photo" if name == "DG2" else ""
            raise DocumentError(
                f"{name} would be {len(data)} bytes, above the reader's limit of "
                f"{MAX_LDS_FILE}{hint}"
            )
