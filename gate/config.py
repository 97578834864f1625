"""Kiosk configuration: a TOML file validated into frozen dataclasses.

Every section and key is declared here; an unknown key is an error that names it (a typo in
``pasage_s`` must not silently leave the default in force at a border). Type and range
errors name the key and say what was expected. Relative paths are resolved against the
directory of the config file. ``docs/kiosk-config.md`` documents every key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import ConfigError
from gate.toml_files import load_toml

FMR_CHOICES = ("1e-2", "1e-3", "1e-4")  # the operating points packs are calibrated at


@dataclass(frozen=True)
class DecisionPolicy:
    """The decision rules' settings (``gate.decision``), made from a config's sections."""

    target_fmr: str = "1e-3"
    liveness_threshold: float = 0.5
    require_passive_auth: bool = True  # strict: "not_checked" refers too
    refer_on_active_auth_invalid: bool = True
    check_expiry: bool = True
    require_clone_check: bool = False  # refer chips offering neither CA nor AA
    refer_on_stale_crl: bool = True  # a CRL past its nextUpdate refers the traveller


@dataclass(frozen=True)
class LaneConfig:
    name: str = "lane-1"
    # Console public key(s) whose signed officer commands this lane believes: a PEM file or
    # a folder of *.pub files (egate console keygen). None: no command from outside is.
    trusted_consoles: Path | None = None


@dataclass(frozen=True)
class CameraConfig:
    address: str = "0"  # OpenCV index, file, http(s)/rtsp URL, image sequence
    min_face: int = 60  # pixels: smaller faces are ignored
    best_shot_window_s: float = 3.0  # after the first good frame, keep looking this long
    watch_approach: bool = True  # egate run: track the face and its liveness before the scan


@dataclass(frozen=True)
class ReaderConfig:
    address: str = "pcsc"  # "pcsc" (any reader with a card) or "pcsc:READER NAME"
    # where the printed MRZ comes from: "stdin", a file path, or a camera over the data page
    # ("camera:ADDRESS", a stream URL, /dev/videoN: gate.lane.page_source reads it by OCR)
    mrz_source: str = "stdin"
    trust_store: Path | None = None  # folder of CSCA certificates (PEM or DER)
    card_wait_s: float = 5.0  # after the MRZ, how long the chip reader waits for the card


@dataclass(frozen=True)
class TurnstileConfig:
    address: str = "gatectl:/dev/ttyUSB0"


@dataclass(frozen=True)
class FaceConfig:
    pack: str = "default"  # a pack id or a pack folder; "default": the engine's default pack
    target_fmr: str = "1e-3"


@dataclass(frozen=True)
class LivenessConfig:
    threshold: float = 0.5  # PAD score in [0, 1]; below it the traveller is referred


@dataclass(frozen=True)
class DocumentConfig:
    require_passive_auth: bool = True  # strict: PA "not_checked" refers too
    refer_on_active_auth_invalid: bool = True
    check_expiry: bool = True
    require_clone_check: bool = False  # refer chips offering neither CA nor AA
    refer_on_stale_crl: bool = True  # a CRL past its nextUpdate refers the traveller


@dataclass(frozen=True)
class TimeoutsConfig:
    document_s: float = 10.0  # chip read, from card found to PA done
    capture_s: float = 8.0  # live face search, then failure to acquire
    verify_s: float = 3.0  # embedding and comparison
    exit_open_s: float = 5.0  # door confirmed open after the command
    passage_s: float = 15.0  # traveller through the exit after it opened
    idle_poll_s: float = 0.5  # how often the idle gate looks for a document
    # the one action asked when passive liveness is inconclusive (a blink, a head turn)
    challenge_s: float = 6.0


@dataclass(frozen=True)
class AuditConfig:
    path: Path = Path("audit.db")
    salt_path: Path | None = None  # default: beside the database
    checkpoint_path: Path | None = None  # signed chain heads; default: beside it, ".head"
    checkpoint_every: int = 100  # rows between two heads (one more on shutdown)


@dataclass(frozen=True)
class ChecksConfig:
    """The checks stage (``gate.lane.checks``): watchlists and eligibility rules."""

    store: Path | None = None  # watch store folder (egate watchlist init); None: no lists
    key_file: Path | None = None  # the store's key; default: $EGATE_WATCH_KEY
    target_fpir: float = 1e-3  # the person search's false-positive identification rate
    time_limit_s: float = 0.5  # a check that has not answered by then refers (TIMEOUT)
    allowed_nationalities: str = ""  # comma-separated ICAO codes ("D,FRA"); "": any
    document_types: str = ""  # comma-separated DG1 document codes ("P,PP"); "": any
    minimum_age: int = 0  # years, from DG1's birth date
    refuse_expired: bool = True


@dataclass(frozen=True)
class GateConfig:
    lane: LaneConfig = field(default_factory=LaneConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    turnstile: TurnstileConfig = field(default_factory=TurnstileConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    liveness: LivenessConfig = field(default_factory=LivenessConfig)
    document: DocumentConfig = field(default_factory=DocumentConfig)
    timeouts: TimeoutsConfig = field(default_factory=TimeoutsConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)

    def policy(self) -> DecisionPolicy:
        return DecisionPolicy(
            target_fmr=self.face.target_fmr,
            liveness_threshold=self.liveness.threshold,
            require_passive_auth=self.document.require_passive_auth,
            refer_on_active_auth_invalid=self.document.refer_on_active_auth_invalid,
            check_expiry=self.document.check_expiry,
            require_clone_check=self.document.require_clone_check,
            refer_on_stale_crl=self.document.refer_on_stale_crl,
        )


def expand_user(key: str, value: str) -> Path:
    """``Path(value).expanduser()``, with a ``ConfigError`` naming ``key`` for a ``~user``
    that does not exist (pathlib raises ``RuntimeError`` there)."""
    try:
        return Path(value).expanduser()
    except RuntimeError as exc:
        raise ConfigError(f"{key}: cannot expand {value!r}: no such user home") from exc


def _check_value(key: str, annotation: Any, value: Any, base: Path) -> Any:
    """Validate one TOML value against a field's annotation; returns the converted value."""
    args = typing.get_args(annotation)
    if type(None) in args:  # Optional[X]: TOML has no null, so any given value must be an X
        (inner,) = (a for a in args if a is not type(None))
        return _check_value(key, inner, value, base)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if annotation is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: expected a path (a non-empty string), got {value!r}")
        path = expand_user(key, value)
        return path if path.is_absolute() else base / path
    raise ConfigError(f"{key}: unsupported field type {annotation!r}")  # pragma: no cover


def _build_section(name: str, cls: type[Any], table: Any, base: Path) -> Any:
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{name}]: expected a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(
                f"unknown key {name}.{key} (known keys of [{name}]: {', '.join(sorted(known))})"
            )
        kwargs[key] = _check_value(f"{name}.{key}", hints[key], value, base)
    return cls(**kwargs)


def _check_ranges(cfg: GateConfig) -> None:
    if cfg.face.target_fmr not in FMR_CHOICES:
        raise ConfigError(
            f"face.target_fmr: {cfg.face.target_fmr!r} is not one of {', '.join(FMR_CHOICES)}"
        )
    if not 0.0 <= cfg.liveness.threshold <= 1.0:
        raise ConfigError(f"liveness.threshold: {cfg.liveness.threshold} is outside [0, 1]")
    if not cfg.camera.best_shot_window_s > 0:
        raise ConfigError(
            f"camera.best_shot_window_s: {cfg.camera.best_shot_window_s} must be > 0 seconds"
        )
    if not cfg.reader.card_wait_s > 0:
        raise ConfigError(f"reader.card_wait_s: {cfg.reader.card_wait_s} must be > 0 seconds")
    if cfg.camera.min_face < 0:
        raise ConfigError(f"camera.min_face: {cfg.camera.min_face} must be >= 0")
    for f in dataclasses.fields(TimeoutsConfig):
        value = getattr(cfg.timeouts, f.name)
        if not value > 0:
            raise ConfigError(f"timeouts.{f.name}: {value} must be > 0 seconds")
    for key, text in (
        ("camera.address", cfg.camera.address),
        ("reader.address", cfg.reader.address),
        ("turnstile.address", cfg.turnstile.address),
        ("lane.name", cfg.lane.name),
    ):
        if not text.strip():
            raise ConfigError(f"{key}: must not be empty")


def config_from_mapping(data: Mapping[str, Any], base: Path = Path(".")) -> GateConfig:
    """Validate an already parsed TOML document."""
    sections = {f.name: f for f in dataclasses.fields(GateConfig)}
    hints = typing.get_type_hints(GateConfig)
    kwargs: dict[str, Any] = {}
    for name, table in data.items():
        if name not in sections:
            raise ConfigError(
                f"unknown section [{name}] (known sections: {', '.join(sorted(sections))})"
            )
        kwargs[name] = _build_section(name, hints[name], table, base)
    cfg = GateConfig(**kwargs)
    _check_ranges(cfg)
    source = cfg.reader.mrz_source
    if source == "camera:" or (source.startswith("camera:") and not source[7:].strip()):
        raise ConfigError("reader.mrz_source: 'camera:' names no camera address")
    if (
        source != "stdin"
        and page_camera_address(source) is None
        and not expand_user("reader.mrz_source", source).is_absolute()
    ):
        reader = dataclasses.replace(cfg.reader, mrz_source=str(base / source))
        cfg = dataclasses.replace(cfg, reader=reader)
    return cfg


_STREAM_SCHEMES = ("http://", "https://", "rtsp://", "rtsps://")


def page_camera_address(mrz_source: str) -> str | None:
    """The camera address (as ``[camera]`` takes it) of a ``reader.mrz_source`` that names
    a page camera, a document camera or a UVC device over the data page: ``camera:ADDRESS``,
    a stream URL or ``/dev/videoN``; ``None`` for ``stdin`` or a file/FIFO of MRZ lines."""
    if mrz_source.startswith("camera:"):
        return mrz_source.removeprefix("camera:").strip()
    if mrz_source.startswith(_STREAM_SCHEMES) or re.fullmatch(r"/dev/video\d+", mrz_source):
        return mrz_source
    return None


def load_config(path: Path) -> GateConfig:
    """Read and validate a kiosk TOML file; errors name the file and the key."""
    data = load_toml(path, "config file")
    try:
        return config_from_mapping(data, base=path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
