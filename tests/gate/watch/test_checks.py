"""The border checks: eligibility rules, document and person lists, versions swapped in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gate.outcome import Decision
from gate.watch.checks import EligibilityRules, WatchChecks, check_eligibility, person_threshold
from tests.gate.watch import lists

TODAY = dt.date(2026, 12, 7)
PEOPLE = lists.templates(4, seed=21)


@pytest.mark.parametrize(
    ("rules", "mrz", "refused"),
    [
        (EligibilityRules.from_text(nationalities="D, fra"), lists.mrz(), "nationality"),
        (EligibilityRules.from_text(nationalities="UTO"), lists.mrz(), None),
        (EligibilityRules.from_text(document_types="PP"), lists.mrz(), "document type"),
        (EligibilityRules(minimum_age=18), lists.mrz(birth="081208"), "minimum age"),
        (EligibilityRules(minimum_age=18), lists.mrz(birth="081207"), None),  # 18 today
        (EligibilityRules(minimum_age=18), lists.mrz(birth="500101"), None),  # 1950, not 2050
        (EligibilityRules(), lists.mrz(expiry="261206"), "expired"),
        (EligibilityRules(refuse_expired=False), lists.mrz(expiry="261206"), None),
        (EligibilityRules(), lists.mrz()[:-3] + "AAA", "DG1 cannot be checked"),
    ],
)
def test_eligibility_rules(rules: EligibilityRules, mrz: str, refused: str | None) -> None:
    verdict = check_eligibility(mrz, TODAY, rules)
    if refused is None:
        assert verdict is None
    else:
        assert verdict is not None and verdict.decision is Decision.REFER_ELIGIBILITY
        assert refused in verdict.reason


def test_the_person_threshold_keeps_the_fpir_of_the_gallery() -> None:
    thresholds = {"1e-2": 3.0, "1e-3": 2.0, "1e-4": 1.0}
    assert person_threshold(thresholds, 1, 1e-2) == 3.0
    assert person_threshold(thresholds, 10, 1e-2) == 2.0  # 10 x 1e-3 = 1e-2
    assert person_threshold(thresholds, 11, 1e-2) == 1.0
    assert person_threshold(thresholds, 10**6, 1e-3) == 1.0  # the strictest there is


def test_lists_hit_by_list_and_version_and_a_new_version_is_swapped_in(tmp_path: Path) -> None:
    store, issuer = lists.make_store(
        tmp_path / "w",
        documents=[("SLTD", "D-1", "UTO", "L898902C3")],
        persons=[("wanted", "P-1", PEOPLE[0])],
    )
    checks = WatchChecks(store)
    stolen = checks.check(lists.mrz(), [], TODAY)
    assert stolen is not None and stolen.decision is Decision.REFER_WATCHLIST
    assert stolen.reason == "watchlist: document list SLTD (version 1)"
    assert "D-1" not in stolen.reason and "L898902C3" not in stolen.reason
    clean = lists.mrz(number="X1234567")
    assert checks.check(clean, [PEOPLE[1]], TODAY) is None
    wanted = checks.check(clean, [PEOPLE[1], lists.near(PEOPLE[:1], 0.2, 3)[0]], TODAY)
    assert wanted is not None and wanted.reason == "watchlist: person list wanted (version 1)"
    body = lists.content(2, persons=[("wanted", "P-2", PEOPLE[1])])
    lists.import_signed(store, issuer, body)
    assert checks.version == 1  # until the new version is loaded beside it
    checks.refresh(wait=True)
    assert checks.version == 2
    hit = checks.check(clean, [PEOPLE[1]], TODAY)
    assert hit is not None and "version 2" in hit.reason
    assert checks.check(clean, [PEOPLE[0]], TODAY) is None  # P-1 left the list in v2
