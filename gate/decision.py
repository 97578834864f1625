"""The decision rules, as pure functions of what the chip and the camera gave.

In the spirit of BSI TR-03121-3: the face threshold is the model pack's threshold for the
configured target FMR (default 1e-3, the ABC norm); the traveller is referred to an officer
whenever the photo is missing, the document fails a check (passive authentication invalid,
revoked, or not checked when the policy is strict; a stale CRL unless allowed; active or
chip authentication invalid; neither offered when clone checks are required; expired; DG1 not
equal to the printed MRZ), liveness is below its threshold, or capture failed. Rules are
applied in that order so the outcome names the first reason, which is what an officer
needs to see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gate.config import DecisionPolicy
from gate.errors import DocumentError
from gate.outcome import Decision
from gate.transaction import CaptureOutcome, DocumentRead

__all__ = [
    "DecisionPolicy",
    "Verdict",
    "check_capture",
    "check_document",
    "decide_match",
    "expiry_to_date",
]


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str


def _mrz_key(text: str) -> str:
    """MRZ text with line breaks and surrounding blanks removed, for comparison."""
    return "".join(line.strip() for line in text.strip().splitlines())


def expiry_to_date(yymmdd: str, today: dt.date) -> dt.date:
    """An MRZ expiry date as a date: 20YY unless that lies more than 50 years ahead."""
    if len(yymmdd) != 6 or not (yymmdd.isascii() and yymmdd.isdigit()):
        raise DocumentError(f"expiry date {yymmdd!r} is not YYMMDD")
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    year = 2000 + yy if 2000 + yy <= today.year + 50 else 1900 + yy
    try:
        return dt.date(year, mm, dd)
    except ValueError as exc:
        raise DocumentError(f"expiry date {yymmdd!r} is not a calendar date") from exc


def check_document(
    doc: DocumentRead, printed_mrz: str, today: dt.date, policy: DecisionPolicy
) -> Verdict | None:
    """The document rules; ``None`` when the document may go on to face verification."""
    if doc.passive_auth == "invalid":
        return Verdict(Decision.REFER_DOCUMENT, "passive authentication invalid")
    if doc.passive_auth == "revoked":
        return Verdict(Decision.REFER_DOCUMENT, "document signer revoked")
    if doc.passive_auth == "crl_stale" and policy.refer_on_stale_crl:
        return Verdict(Decision.REFER_DOCUMENT, "the CSCA's CRL is past its next update")
    if doc.passive_auth not in ("valid", "crl_stale") and policy.require_passive_auth:
        return Verdict(Decision.REFER_DOCUMENT, f"passive authentication {doc.passive_auth}")
    if doc.active_auth == "invalid" and policy.refer_on_active_auth_invalid:
        return Verdict(Decision.REFER_DOCUMENT, "active authentication invalid")
    if doc.chip_auth == "invalid":
        return Verdict(Decision.REFER_DOCUMENT, "chip authentication invalid (possible clone)")
    if policy.require_clone_check and "valid" not in (doc.active_auth, doc.chip_auth):
        return Verdict(Decision.REFER_DOCUMENT, "no clone check: the chip offers neither CA nor AA")
    if _mrz_key(doc.dg1_mrz) != _mrz_key(printed_mrz):
        return Verdict(Decision.REFER_DOCUMENT, "DG1 differs from the printed MRZ")
    if policy.check_expiry and expiry_to_date(doc.expiry_date, today) < today:
        return Verdict(Decision.REFER_DOCUMENT, "document expired")
    if doc.photo is None:
        return Verdict(Decision.REFER_DOCUMENT, "no photo in the chip (DG2)")
    return None


def check_capture(capture: CaptureOutcome, policy: DecisionPolicy) -> Verdict | None:
    """The capture rules; ``None`` when a live face is ready for comparison."""
    if capture.status == "camera_failed":
        return Verdict(Decision.REFER_DEVICE, f"camera failed {capture.detail}".strip())
    if capture.status == "multiple_faces":
        return Verdict(Decision.REFER_CAPTURE, "more than one face in the lane")
    if capture.status != "ok" or not capture.embeddings:
        return Verdict(Decision.REFER_CAPTURE, "failure to acquire a usable face")
    if capture.liveness is None or capture.liveness < policy.liveness_threshold:
        return Verdict(Decision.REFER_LIVENESS, "liveness below threshold")
    return None


def decide_match(distance: float, threshold: float) -> Verdict:
    """Accept when the distance is at most the threshold for the target FMR."""
    if distance <= threshold:
        return Verdict(Decision.ACCEPT, "face verified")
    return Verdict(Decision.REJECT_MISMATCH, "face does not match the chip photo")
