"""The lane's checks stage: a hit refers silently with a priority alarm, a failing or slow
check refers, and a clear traveller goes through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from gate.decision import Verdict
from gate.fakes import FakeLane
from gate.lane import GateEvent
from gate.outcome import Decision, Transaction
from gate.transaction import CaptureOutcome, DocumentRead, PresentedDocument
from gate.watch.checks import EligibilityRules, WatchChecks
from gate.watch.store import WatchStore
from tests.gate.watch import lists

PEOPLE = lists.templates(3, seed=31)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> WatchStore:
    folder = tmp_path_factory.mktemp("watch") / "store"
    made, _ = lists.make_store(
        folder,
        version=7,
        documents=[("SLTD", "D-1", "UTO", "L898902C3")],
        persons=[("wanted", "P-1", PEOPLE[0])],
    )
    return made


def _traveller(lane: FakeLane, mrz: str, live: npt.NDArray[np.float32], label: str) -> None:
    lane.chip.answers[label] = DocumentRead(
        document_number="-", expiry_date="351231", dg1_mrz=mrz, photo=np.zeros((8, 8, 3), np.uint8),
        passive_auth="valid", active_auth="valid", chip_auth="valid",
    )  # fmt: skip
    lane.biometrics.script.append(CaptureOutcome("ok", (live,), liveness=0.9, quality=0.8))
    lane.turnstile.passages.append("pass")
    lane.documents.present(PresentedDocument(printed_mrz=mrz, label=label))


class SameFace:
    """The 1:1 step says "match" (these tests are about the checks after it)."""

    def __call__(self, reference: object, probes: Sequence[object]) -> float:
        return 0.0


def _run(
    checks: WatchChecks | None, mrz: str, live: npt.NDArray[np.float32]
) -> tuple[Transaction, list[GateEvent], FakeLane]:
    lane = FakeLane()
    lane.biometrics.distance = SameFace()  # type: ignore[method-assign]
    events: list[GateEvent] = []
    gate = lane.build(observers=(events.append,))
    gate.checks.use(checks)
    gate.start()
    _traveller(lane, mrz, live, "t")
    tx = gate.serve_one(0.1)
    assert tx is not None
    return tx, events, lane


@pytest.mark.parametrize(
    ("mrz", "live", "list_name"),
    [
        (lists.mrz(), PEOPLE[1], "document list SLTD"),  # stolen_document
        (lists.mrz(number="X1234567"), lists.near(PEOPLE[:1], 0.2, 5)[0], "person list wanted"),
    ],
)
def test_a_hit_refers_with_a_priority_alarm_naming_the_list(
    store: WatchStore, mrz: str, live: npt.NDArray[np.float32], list_name: str
) -> None:
    tx, events, lane = _run(WatchChecks(store), mrz, live)
    assert tx.decision is Decision.REFER_WATCHLIST
    assert tx.detail == f"watchlist: {list_name} (version 1)"
    assert lane.audit.decisions[0].detail == tx.detail  # on record before the doors
    alarms = [e for e in events if e.kind == "alarm"]
    assert len(alarms) == 1 and alarms[0].data["priority"] is True
    assert alarms[0].detail == tx.detail and alarms[0].data["version"] == 1
    assert "open_exit" not in lane.turnstile.commands and lane.turnstile.locked
    assert "open_entry" not in lane.turnstile.commands  # held for the officer
    assert "checks" in tx.stage_ms


def test_a_clear_traveller_goes_through_and_no_checks_means_none(store: WatchStore) -> None:
    tx, events, _ = _run(WatchChecks(store), lists.mrz(number="X1234567"), PEOPLE[1])
    assert tx.decision is Decision.ACCEPT and "checks" in tx.stage_ms
    assert not [e for e in events if e.kind == "alarm"]
    tx, _, _ = _run(None, lists.mrz(), PEOPLE[0])
    assert tx.decision is Decision.ACCEPT and "checks" not in tx.stage_ms


def test_an_ineligible_traveller_walks_back(store: WatchStore) -> None:
    rules = EligibilityRules.from_text(nationalities="D")
    tx, events, lane = _run(WatchChecks(store, rules), lists.mrz(), PEOPLE[1])
    assert tx.decision is Decision.REFER_ELIGIBILITY
    assert "open_entry" in lane.turnstile.commands
    assert not [e for e in events if e.kind == "alarm"]


class Broken(WatchChecks):
    def __init__(self, clock: object = None, seconds: float = 0.0) -> None:
        super().__init__(None)
        self.clock, self.seconds = clock, seconds

    def check(
        self, dg1_mrz: str, templates: Sequence[npt.ArrayLike], today: dt.date
    ) -> Verdict | None:
        if self.clock is None:
            raise OSError("store unreadable")
        self.clock.sleep(self.seconds)  # type: ignore[attr-defined]
        return None


def test_a_check_that_fails_or_runs_late_refers() -> None:
    tx, _, lane = _run(Broken(), lists.mrz(), PEOPLE[1])
    assert tx.decision is Decision.REFER_DEVICE and "OSError" in tx.detail
    assert "open_exit" not in lane.turnstile.commands
    lane = FakeLane()
    lane.biometrics.distance = SameFace()  # type: ignore[method-assign]
    gate = lane.build()
    gate.checks.use(Broken(lane.clock, 0.6), time_limit_s=0.5)
    gate.start()
    _traveller(lane, lists.mrz(), PEOPLE[1], "late")
    tx2 = gate.serve_one(0.1)
    assert tx2 is not None and tx2.decision is Decision.TIMEOUT
    assert "open_exit" not in lane.turnstile.commands


def test_the_checks_section_of_the_kiosk_config(
    tmp_path: Path, store: WatchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gate.config import config_from_mapping
    from gate.errors import ConfigError
    from gate.lane.checks import watch_checks

    assert watch_checks(config_from_mapping({}).checks) is None  # off by default
    cfg = config_from_mapping({"checks": {"allowed_nationalities": "D,UTO", "minimum_age": 18}})
    checks = watch_checks(cfg.checks)
    assert checks is not None and checks.store is None
    assert checks.rules.nationalities == {"D", "UTO"} and checks.rules.minimum_age == 18
    with pytest.raises(ConfigError, match=r"checks\.target_fpir"):
        watch_checks(config_from_mapping({"checks": {"target_fpir": 2.0}}).checks)
    monkeypatch.delenv("EGATE_WATCH_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"checks\.store: no watch key"):
        watch_checks(config_from_mapping({"checks": {"store": str(tmp_path)}}).checks)
    key = tmp_path / "key"
    key.write_text(bytes(range(32)).hex())
    key.chmod(0o600)
    empty = {"store": str(tmp_path / "none"), "key_file": str(key)}
    with pytest.raises(ConfigError, match=r"checks\.store: .*not initialised"):
        watch_checks(config_from_mapping({"checks": empty}).checks)
    section = {"store": str(store.folder), "key_file": str(key)}
    loaded = watch_checks(config_from_mapping({"checks": section}).checks)
    assert loaded is not None and loaded.version == 1
