"""The border checks a lane runs beside the 1:1 match: the document and person watchlists of
the store's current version, and the lane's eligibility rules.

``WatchChecks.check`` answers with a ``Verdict`` that refers (``REFER_WATCHLIST`` naming the
list and the version, never the entry; ``REFER_ELIGIBILITY`` naming the rule) or ``None``.
A new store version is loaded beside the running one, in a thread, and swapped in as one
reference: a check in flight finishes on the version it started with, and no check waits
for a load or runs on a half-loaded version.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gate.decision import Verdict
from gate.errors import DocumentError
from gate.icao.mrz import parse_mrz
from gate.outcome import Decision
from gate.watch.search import Gallery
from gate.watch.store import Snapshot, WatchStore

log = logging.getLogger("gate.watch")


@dataclass(frozen=True)
class EligibilityRules:
    """Who may use the automated lane at all (empty sets: anyone)."""

    nationalities: frozenset[str] = frozenset()
    document_types: frozenset[str] = frozenset()  # "P", "PP", "ID" ... (DG1's first field)
    minimum_age: int = 0
    refuse_expired: bool = True

    @staticmethod
    def from_text(
        nationalities: str = "",
        document_types: str = "",
        minimum_age: int = 0,
        refuse_expired: bool = True,
    ) -> EligibilityRules:
        """Rules from comma-separated config text (``"D,FRA,UTO"``)."""

        def codes(text: str) -> frozenset[str]:
            return frozenset(c.strip().upper() for c in text.split(",") if c.strip())

        return EligibilityRules(
            codes(nationalities), codes(document_types), minimum_age, refuse_expired
        )


def _birth_date(yymmdd: str, today: dt.date) -> dt.date:
    """A DG1 birth date: the latest century that does not put it in the future."""
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        raise DocumentError("birth date not known (DG1)")
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    try:
        born = dt.date(year, mm, dd)
    except ValueError as exc:
        raise DocumentError("birth date not a calendar date (DG1)") from exc
    return born if born <= today else dt.date(year - 100, mm, dd)


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_eligibility(dg1_mrz: str, today: dt.date, rules: EligibilityRules) -> Verdict | None:
    """The first rule the traveller's DG1 breaks, or ``None``."""
    try:
        mrz = parse_mrz(dg1_mrz)
        doc_type = mrz.document_type.replace("<", "")
        if rules.document_types and doc_type not in rules.document_types:
            return _ineligible("document type not admitted to this lane")
        nationality = mrz.nationality.replace("<", "")
        if rules.nationalities and nationality not in rules.nationalities:
            return _ineligible("nationality not admitted to this lane")
        if (
            rules.minimum_age
            and _age(_birth_date(mrz.birth_date, today), today) < rules.minimum_age
        ):
            return _ineligible(f"under the lane's minimum age ({rules.minimum_age})")
        if rules.refuse_expired:
            from gate.decision import expiry_to_date

            if expiry_to_date(mrz.expiry_date, today) < today:
                return _ineligible("document expired")
    except DocumentError as exc:
        return _ineligible(f"DG1 cannot be checked ({exc})")
    return None


def _ineligible(rule: str) -> Verdict:
    return Verdict(Decision.REFER_ELIGIBILITY, f"eligibility: {rule}")


@dataclass(frozen=True)
class Hit:
    """A watchlist hit: which list, of which version (never which entry)."""

    kind: str  # "document" or "person"
    list_name: str
    version: int

    def verdict(self) -> Verdict:
        return Verdict(
            Decision.REFER_WATCHLIST,
            f"watchlist: {self.kind} list {self.list_name} (version {self.version})",
        )


@dataclass(frozen=True)
class Loaded:
    """A snapshot and its searchable gallery."""

    snapshot: Snapshot
    gallery: Gallery

    @staticmethod
    def of(snapshot: Snapshot, pack: str) -> Loaded:
        return Loaded(snapshot, Gallery(pack, snapshot.templates, snapshot.index))


def person_threshold(thresholds: dict[str, float], gallery: int, target_fpir: float) -> float:
    """The pack threshold for a 1:N search of ``gallery`` entries at ``target_fpir``: the
    one calibrated at the largest FMR with ``gallery * FMR <= target_fpir`` (an impostor
    search makes ``gallery`` comparisons), or the strictest when none is that small."""
    if not thresholds:
        raise DocumentError("the pack has no calibrated thresholds for a 1:N search")
    ranked = sorted(((float(k), v) for k, v in thresholds.items()), reverse=True)
    for fmr, value in ranked:
        if max(gallery, 1) * fmr <= target_fpir:
            return value
    return ranked[-1][1]


class WatchChecks:
    """The checks against a store (its current version, swapped in when a new one lands)."""

    def __init__(
        self,
        store: WatchStore | None,
        rules: EligibilityRules = EligibilityRules(),
        *,
        target_fpir: float = 1e-3,
        loaded: Loaded | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.target_fpir = target_fpir
        self._loaded = loaded
        if loaded is None and store is not None:
            self._loaded = Loaded.of(store.snapshot(), store.pack)
        self._loading: threading.Thread | None = None
        self._thresholds: dict[str, float] = {}
        if self._loaded is not None:
            self._thresholds = dict(self._loaded.gallery.manifest.thresholds)

    @property
    def version(self) -> int:
        return 0 if self._loaded is None else self._loaded.snapshot.version

    def refresh(self, wait: bool = False) -> None:
        """Start loading the store's newer version, if there is one (``wait``: until done)."""
        store = self.store
        if store is None or (self._loading is not None and self._loading.is_alive()):
            if wait and self._loading is not None:
                self._loading.join()
            return
        try:
            newest = store.current_version()
        except Exception as exc:  # the running version stays in force
            log.warning("watch store: cannot read its version: %s", exc)
            return
        if newest == self.version:
            return

        def load() -> None:
            try:
                self._loaded = Loaded.of(store.snapshot(newest), store.pack)
                log.info("watch store: version %d in force", newest)
            except Exception as exc:
                log.warning("watch store: version %d not loaded: %s", newest, exc)

        self._loading = threading.Thread(target=load, name="watch-load", daemon=True)
        self._loading.start()
        if wait:
            self._loading.join()

    def check(
        self,
        dg1_mrz: str,
        templates: Sequence[npt.ArrayLike],
        today: dt.date,
    ) -> Verdict | None:
        """Eligibility, then the document list, then the person list; ``None``: clear."""
        verdict = check_eligibility(dg1_mrz, today, self.rules)
        if verdict is not None:
            return verdict
        self.refresh()
        loaded = self._loaded  # one reference for the whole check
        if loaded is None:
            return None
        hit = self._document_hit(loaded, dg1_mrz)
        if hit is None:
            hit = self._person_hit(loaded, templates)
        return None if hit is None else hit.verdict()

    def _document_hit(self, loaded: Loaded, dg1_mrz: str) -> Hit | None:
        documents = loaded.snapshot.documents
        if not documents or self.store is None:
            return None
        mrz = parse_mrz(dg1_mrz)
        name = documents.get(self.store.key.document_digest(mrz.issuing_state, mrz.document_number))
        return None if name is None else Hit("document", name, loaded.snapshot.version)

    def _person_hit(self, loaded: Loaded, templates: Sequence[npt.ArrayLike]) -> Hit | None:
        probes = [np.asarray(t, dtype=np.float32).reshape(-1) for t in templates]
        if not probes or len(loaded.gallery) == 0:
            return None
        thresholds = self._thresholds or dict(loaded.gallery.manifest.thresholds)
        limit = person_threshold(thresholds, len(loaded.gallery), self.target_fpir)
        found = loaded.gallery.within(np.stack(probes), limit)
        if found is None or not math.isfinite(found.distance):
            return None
        return Hit("person", loaded.snapshot.person_lists[found.row], loaded.snapshot.version)
