"""The scenario file: who walks through the simulated gate and what each should get.

A scenario is TOML (documented in ``docs/scenarios.md``)::

    [scenario]
    name = "demo"
    seed = 7

    [[traveller]]
    kind = "genuine"            # genuine, impostor, expired, tampered, print_attack,
                                # screen_attack, no_face, tailgater, clone, id_card,
                                # revoked, wanted, stolen_document, substituted_photo,
                                # mrz_mismatch
    photo = "faces/ana.jpg"     # the passport photo; relative to the scenario file,
                                # or "sample:t1.jpg#2" (third face of the insightface sample)
    live_photo = "faces/bo.jpg" # who really stands in the lane: for an impostor someone
                                # else (required), for a genuine traveller the same
                                # person in another photo (optional); for a substituted
                                # photo the one whose portrait is printed on the genuine
                                # passport's page (required)
    expect = "ACCEPT"           # optional: defaults to the kind's usual outcome
    still = false               # optional: the traveller stands perfectly still at the
                                # camera (passive liveness cannot tell: the gate asks
                                # for an action)
    challenge = "answer"        # optional: when the gate asks for an action (a head
                                # turn) the traveller does it ("answer", the default)
                                # or not ("ignore")

    [conditions]                # optional: how travellers move and the camera sees them
    preset = "typical"          # ideal, typical or harsh; any axis may be overridden
                                # (drivers.camera.conditions, docs/evaluation.md)

Like the kiosk config, unknown keys are errors that name the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.camera.conditions import Conditions, conditions_from_mapping
from gate.config import expand_user
from gate.errors import ConfigError, DocumentError
from gate.icao.country import nationality_code
from gate.outcome import Decision
from gate.toml_files import load_toml

# Every traveller kind and the outcome it should get from a correct gate.
EXPECTED_DECISION: dict[str, Decision] = {
    "genuine": Decision.ACCEPT,
    "impostor": Decision.REJECT_MISMATCH,
    "expired": Decision.REFER_DOCUMENT,
    "tampered": Decision.REFER_DOCUMENT,
    "print_attack": Decision.REFER_LIVENESS,
    "screen_attack": Decision.REFER_LIVENESS,
    "no_face": Decision.REFER_CAPTURE,
    "tailgater": Decision.TAILGATING,
    "clone": Decision.REFER_DOCUMENT,  # copied chip: Chip Authentication fails
    "id_card": Decision.ACCEPT,  # TD1 ID card, PACE only, genuine
    "revoked": Decision.REFER_DOCUMENT,  # its Document Signer is on the CSCA's CRL
    "wanted": Decision.REFER_WATCHLIST,  # on a person watchlist, on a genuine own passport
    "stolen_document": Decision.REFER_WATCHLIST,  # the passport's number is listed stolen
    # A genuine chip whose data page shows another person's portrait (the one in the lane).
    "substituted_photo": Decision.REFER_DOCUMENT,
    # The page's MRZ differs from DG1 in the name (outside the access key: the chip opens).
    "mrz_mismatch": Decision.REFER_DOCUMENT,
}
# Kinds whose printed data page differs from what the chip holds.
PAGE_FRAUD_KINDS = ("substituted_photo", "mrz_mismatch")
TRAVELLER_KINDS = tuple(EXPECTED_DECISION)
# Kinds whose face in the lane may come from another photo than the passport's.
LIVE_PHOTO_KINDS = ("genuine", "impostor", "id_card", "substituted_photo")
# Kinds that need a live face apart from the passport photo.
NEEDS_LIVE_PHOTO = {
    "impostor": "an impostor (the face in the lane)",
    "substituted_photo": "a substituted photo (the face on the page and in the lane)",
}
_ALIASES = {
    "expired_document": "expired",
    "tampered_chip": "tampered",
    "print": "print_attack",
    "screen": "screen_attack",
    "cloned_chip": "clone",
    "revoked_signer": "revoked",
    "photo_substitution": "substituted_photo",
    "page_mismatch": "mrz_mismatch",
}
CHALLENGE_ANSWERS = ("answer", "ignore")
SAMPLE_PREFIX = "sample:"
MAX_SEED = 2**32 - 1  # random generators refuse negative seeds; some want 32 bits
DEFAULT_SCENARIO = Path(__file__).with_name("default.toml")


@dataclass(frozen=True)
class TravellerSpec:
    kind: str
    photo: str  # a path (resolved) or "sample:NAME[#INDEX]"
    expect: Decision
    live_photo: str | None = None
    name: str = ""
    approach: str | None = None  # the traveller's own approach (gate.simulate.approaches)
    nationality: str = "UTO"  # DG1's (the traveller's screen speaks its language)
    challenge: str = "answer"  # what the traveller does when the gate asks: CHALLENGE_ANSWERS
    still: bool = False  # stands perfectly still at the camera (a live face, no motion)

    @property
    def label(self) -> str:
        return self.name or self.kind


@dataclass(frozen=True)
class Scenario:
    name: str
    travellers: tuple[TravellerSpec, ...]
    seed: int = 0
    description: str = ""
    source: Path | None = None
    conditions: Conditions | None = None  # None: the synthetic camera's legacy scenes

    def repeated(self, count: int) -> Scenario:
        """The first ``count`` travellers, cycling through the list when it is shorter."""
        if count < 1:
            raise ConfigError(f"--travellers must be >= 1, got {count}")
        people = tuple(self.travellers[i % len(self.travellers)] for i in range(count))
        return Scenario(
            self.name, people, self.seed, self.description, self.source, self.conditions
        )


def normalise_kind(text: str) -> str:
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in EXPECTED_DECISION:
        raise ConfigError(f"unknown traveller kind {text!r} (one of {', '.join(TRAVELLER_KINDS)})")
    return key


def _check_sample(where: str, value: str) -> str:
    """``sample:NAME`` or ``sample:NAME#INDEX``; the index is ASCII digits (``str.isdigit``
    would take '²', which ``int`` then refuses)."""
    name, hash_sign, index = value[len(SAMPLE_PREFIX) :].partition("#")
    if not name.strip() or "/" in name or "\\" in name:
        raise ConfigError(f"{where}: expected 'sample:NAME' (a file name), got {value!r}")
    if hash_sign and not (index.isascii() and index.isdigit() and len(index) <= 4):
        raise ConfigError(
            f"{where}: face index {index!r} in {value!r} is not a number (digits 0-9)"
        )
    return value


def _resolve_photo(where: str, value: Any, base: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a photo path or 'sample:NAME', got {value!r}")
    if value.startswith(SAMPLE_PREFIX):
        return _check_sample(where, value)
    path = expand_user(where, value)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        reason = "is not a regular file" if path.exists() else "does not exist"
        raise ConfigError(f"{where}: photo file {path} {reason}")
    return str(path)


_TRAVELLER_KEYS = {
    "kind", "photo", "live_photo", "expect", "name", "nationality", "challenge", "still",
}  # fmt: skip
_SCENARIO_KEYS = {"name", "seed", "description"}


def _traveller(index: int, table: Any, base: Path) -> TravellerSpec:
    where = f"traveller[{index}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table")
    for key in table:
        if key not in _TRAVELLER_KEYS:
            known = ", ".join(sorted(_TRAVELLER_KEYS))
            raise ConfigError(f"unknown key {where}.{key} (known: {known})")
    if "kind" not in table or not isinstance(table["kind"], str):
        raise ConfigError(f"{where}.kind: required, one of {', '.join(TRAVELLER_KINDS)}")
    try:
        kind = normalise_kind(table["kind"])
    except ConfigError as exc:
        raise ConfigError(f"{where}.kind: {exc}") from exc
    if "photo" not in table:
        raise ConfigError(f"{where}.photo: required (the passport photo)")
    photo = _resolve_photo(f"{where}.photo", table["photo"], base)
    live = table.get("live_photo")
    if kind in NEEDS_LIVE_PHOTO and live is None:
        raise ConfigError(f"{where}.live_photo: required for {NEEDS_LIVE_PHOTO[kind]}")
    if live is not None and kind not in LIVE_PHOTO_KINDS:
        raise ConfigError(
            f"{where}.live_photo: only a genuine traveller (another photo of the holder), "
            "an impostor or a substituted photo has a live face apart from the passport photo"
        )
    live_photo = _resolve_photo(f"{where}.live_photo", live, base) if live is not None else None
    expect = EXPECTED_DECISION[kind]
    if "expect" in table:
        if not isinstance(table["expect"], str):
            raise ConfigError(f"{where}.expect: expected an outcome name")
        try:
            expect = Decision.parse(table["expect"])
        except ConfigError as exc:
            raise ConfigError(f"{where}.expect: {exc}") from exc
    name = table.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name: expected a string")
    nationality = table.get("nationality", "UTO")
    if not isinstance(nationality, str) or not re.fullmatch(r"[A-Z]{1,3}", nationality):
        raise ConfigError(f"{where}.nationality: expected a code of 1-3 letters A-Z (FRA, D)")
    try:
        nationality_code(nationality)
    except DocumentError as exc:
        raise ConfigError(f"{where}.nationality: {exc}") from exc
    challenge = table.get("challenge", "answer")
    if challenge not in CHALLENGE_ANSWERS:
        raise ConfigError(
            f"{where}.challenge: expected one of {', '.join(CHALLENGE_ANSWERS)}, got {challenge!r}"
        )
    still = table.get("still", False)
    if not isinstance(still, bool):
        raise ConfigError(f"{where}.still: expected true or false, got {still!r}")
    return TravellerSpec(kind, photo, expect, live_photo, name, nationality=nationality,
                         challenge=challenge, still=still)  # fmt: skip


def scenario_from_mapping(
    data: Mapping[str, Any], base: Path, source: Path | None = None
) -> Scenario:
    for key in data:
        if key not in ("scenario", "traveller", "conditions"):
            raise ConfigError(
                f"unknown section [{key}] (known: [scenario], [[traveller]], [conditions])"
            )
    head = data.get("scenario", {})
    if not isinstance(head, Mapping):
        raise ConfigError("[scenario]: expected a table")
    for key in head:
        if key not in _SCENARIO_KEYS:
            raise ConfigError(
                f"unknown key scenario.{key} (known: {', '.join(sorted(_SCENARIO_KEYS))})"
            )
    name = head.get("name", source.stem if source else "scenario")
    seed = head.get("seed", 0)
    description = head.get("description", "")
    if not isinstance(name, str):
        raise ConfigError("scenario.name: expected a string")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"scenario.seed: expected an integer 0..{MAX_SEED}, got {seed!r}")
    if not isinstance(description, str):
        raise ConfigError("scenario.description: expected a string")
    people = data.get("traveller", [])
    if not isinstance(people, list) or not people:
        raise ConfigError("[[traveller]]: a scenario needs at least one traveller")
    travellers = tuple(_traveller(i, t, base) for i, t in enumerate(people))
    conditions = None
    if "conditions" in data:
        conditions = conditions_from_mapping(data["conditions"])
    return Scenario(name, travellers, seed, description, source, conditions)


def load_scenario(path: Path | None = None) -> Scenario:
    """Read a scenario file (the default one when ``path`` is None)."""
    path = path or DEFAULT_SCENARIO
    data = load_toml(path, "scenario")  # a regular file, UTF-8, not nested too deep
    try:
        return scenario_from_mapping(data, path.resolve().parent, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
