"""Decision rules: each referral reason, the order they are applied in, the match rule."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from gate.decision import (
    DecisionPolicy,
    check_capture,
    check_document,
    decide_match,
    expiry_to_date,
)
from gate.errors import DocumentError
from gate.outcome import Decision
from gate.transaction import CaptureOutcome
from tests.gate.documents import MRZ, TODAY, document_read


def test_clean_document_passes() -> None:
    assert check_document(document_read(), MRZ, TODAY, DecisionPolicy()) is None
    # Line breaks and blanks around lines do not matter.
    assert (
        check_document(document_read(), "  " + MRZ.replace("\n", "\n  "), TODAY, DecisionPolicy())
        is None
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"passive_auth": "invalid"}, "passive authentication invalid"),
        ({"passive_auth": "not_checked"}, "not_checked"),
        ({"active_auth": "invalid"}, "active authentication"),
        ({"dg1_mrz": MRZ.replace("ANNA", "ANNE")}, "DG1 differs"),
        ({"expiry_date": "261125"}, "expired"),
        ({"photo": None}, "no photo"),
    ],
)
def test_document_referrals(changes: dict[str, object], reason: str) -> None:
    verdict = check_document(document_read(**changes), MRZ, TODAY, DecisionPolicy())
    assert verdict is not None
    assert verdict.decision is Decision.REFER_DOCUMENT
    assert reason in verdict.reason


def test_lenient_policy_accepts_unchecked_pa_and_expired() -> None:
    policy = DecisionPolicy(require_passive_auth=False, check_expiry=False)
    assert check_document(document_read(passive_auth="not_checked"), MRZ, TODAY, policy) is None
    assert check_document(document_read(expiry_date="200101"), MRZ, TODAY, policy) is None
    # An invalid PA is never lenient.
    assert check_document(document_read(passive_auth="invalid"), MRZ, TODAY, policy) is not None


def test_expiry_on_the_day_is_still_valid_and_bad_dates_raise() -> None:
    assert check_document(document_read(expiry_date="261126"), MRZ, TODAY, DecisionPolicy()) is None
    assert expiry_to_date("991231", TODAY) == dt.date(1999, 12, 31)
    assert expiry_to_date("351231", TODAY) == dt.date(2035, 12, 31)
    with pytest.raises(DocumentError, match="YYMMDD"):
        expiry_to_date("3512", TODAY)
    with pytest.raises(DocumentError, match="calendar"):
        expiry_to_date("351341", TODAY)


@pytest.mark.parametrize(
    ("capture", "expected"),
    [
        (CaptureOutcome("camera_failed"), Decision.REFER_DEVICE),
        (CaptureOutcome("multiple_faces"), Decision.REFER_CAPTURE),
        (CaptureOutcome("fta"), Decision.REFER_CAPTURE),
        (CaptureOutcome("ok", (), liveness=0.9), Decision.REFER_CAPTURE),
        (CaptureOutcome("ok", (np.zeros(4, np.float32),), liveness=0.49), Decision.REFER_LIVENESS),
        (CaptureOutcome("ok", (np.zeros(4, np.float32),), liveness=None), Decision.REFER_LIVENESS),
    ],
)
def test_capture_referrals(capture: CaptureOutcome, expected: Decision) -> None:
    verdict = check_capture(capture, DecisionPolicy(liveness_threshold=0.5))
    assert verdict is not None and verdict.decision is expected


def test_live_capture_passes_and_match_rule_is_inclusive() -> None:
    live = CaptureOutcome("ok", (np.zeros(4, np.float32),), liveness=0.5)
    assert check_capture(live, DecisionPolicy(liveness_threshold=0.5)) is None
    assert decide_match(0.6, 0.6).decision is Decision.ACCEPT
    assert decide_match(0.6000001, 0.6).decision is Decision.REJECT_MISMATCH
