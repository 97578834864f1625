"""The lane's checks stage: the watchlists and the eligibility rules (``gate.watch.checks``),
after the document and the face, before any door moves.

It runs when the 1:1 step reached its decision (accept or mismatch: a stolen document is
usually presented by someone else). A hit refers with ``REFER_WATCHLIST`` and raises a
priority ``alarm`` event for the console naming the list and version; the traveller's
screen shows the ordinary referral. A check that fails refers (``REFER_DEVICE``), one that
runs past its time limit refers (``TIMEOUT``): neither ever lets the traveller through.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from gate.config import ChecksConfig
from gate.decision import Verdict
from gate.errors import ConfigError
from gate.lane.events import EventBus
from gate.lane.work import TransactionWork
from gate.outcome import Decision
from gate.transaction import CaptureOutcome, DocumentRead
from gate.watch.checks import EligibilityRules, WatchChecks

log = logging.getLogger("gate.lane")

CHECKED = frozenset({Decision.ACCEPT, Decision.REJECT_MISMATCH})
DEFAULT_LIMIT_S = 0.5


class ChecksStage:
    """Off until ``use`` hands it the checks (``build_lane`` does, from ``[checks]``)."""

    def __init__(self, bus: EventBus, today: Callable[[], dt.date]) -> None:
        self._bus = bus
        self._today = today
        self.checks: WatchChecks | None = None
        self.time_limit_s = DEFAULT_LIMIT_S

    def use(self, checks: WatchChecks | None, time_limit_s: float = DEFAULT_LIMIT_S) -> None:
        self.checks, self.time_limit_s = checks, time_limit_s

    def decide(
        self, work: TransactionWork, doc: DocumentRead, capture: CaptureOutcome, verdict: Verdict
    ) -> Verdict:
        """``verdict`` (the 1:1 step's), or the checks' referral when they have one."""
        checks = self.checks
        if checks is None or verdict.decision not in CHECKED:
            return verdict
        started = work.clock.now()
        try:
            found = checks.check(doc.dg1_mrz, capture.embeddings, self._today())
        except Exception as exc:  # never through on a check that could not answer
            log.warning("watch checks failed: %s", type(exc).__name__)
            found = Verdict(Decision.REFER_DEVICE, f"watch checks failed: {type(exc).__name__}")
        if work.timed("checks", started) > self.time_limit_s:
            return Verdict(Decision.TIMEOUT, "watch checks ran past their time limit")
        if found is None:
            return verdict
        if found.decision is Decision.REFER_WATCHLIST:
            self._bus.emit("alarm", work.transaction_id, found.reason, priority=True,
                           version=checks.version)  # fmt: skip
        return found


def watch_checks(config: ChecksConfig) -> WatchChecks | None:
    """The checks ``[checks]`` asks for; ``None`` when it asks for none."""
    if not 0.0 < config.target_fpir < 1.0:
        raise ConfigError(f"checks.target_fpir: {config.target_fpir} is outside (0, 1)")
    if not config.time_limit_s > 0:
        raise ConfigError(f"checks.time_limit_s: {config.time_limit_s} must be > 0 seconds")
    if config.minimum_age < 0:
        raise ConfigError(f"checks.minimum_age: {config.minimum_age} must be >= 0")
    rules = EligibilityRules.from_text(
        config.allowed_nationalities,
        config.document_types,
        config.minimum_age,
        config.refuse_expired,
    )
    if config.store is None and rules == EligibilityRules.from_text(
        refuse_expired=config.refuse_expired
    ):
        return None
    store = None
    if config.store is not None:
        from gate.watch.keys import load_key
        from gate.watch.store import WatchStore

        try:
            store = WatchStore(config.store, load_key(config.key_file))
        except ConfigError as exc:
            raise ConfigError(f"checks.store: {exc}") from exc
    return WatchChecks(store, rules, target_fpir=config.target_fpir)
