"""Kiosk configuration: a TOML file validated into frozen dataclasses.

Every section and key is declared here; an unknown key is an error that names it (a typo in
``pasage_s`` must not silently leave the default in force at a border). Type and range
errors name the key and say what was expected. Relative paths are resolved against the
directory of the config file. ``docs/kiosk-config.md`` documents every key.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import tomllib

from gate.errors import ConfigError, GateError

FMR_CHOICES = ("1e-2", "1e-3", "1e-4")  # the operating points packs are calibrated at
MAX_TOML_BYTES = 1 << 20  # a kiosk config or a scenario is a few kilobytes
# tomllib recurses once per level of [ and {, and its dotted-key handling is quadratic in
# the number of parts: a hostile file is refused before it parses. No real config comes near.
MAX_TOML_DEPTH = 32


@dataclass(frozen=True)
class DecisionPolicy:
    """The decision rules' settings (``gate.decision``), made from a config's sections."""

    target_fmr: str = "1e-3"
    liveness_threshold: float = 0.5
    require_passive_auth: bool = True  # strict: "not_checked" refers too
    refer_on_active_auth_invalid: bool = True
    check_expiry: bool = True


@dataclass(frozen=True)
class LaneConfig:
    name: str = "lane-1"


@dataclass(frozen=True)
class CameraConfig:
    address: str = "0"  # OpenCV index, file, http(s)/rtsp URL, image sequence
    min_face: int = 60  # pixels: smaller faces are ignored
    best_shot_window_s: float = 3.0  # after the first good frame, keep looking this long


@dataclass(frozen=True)
class ReaderConfig:
    address: str = "pcsc"  # "pcsc" (first reader) or "pcsc:READER NAME"
    mrz_source: str = "stdin"  # where the printed MRZ comes from: "stdin" or a file path
    trust_store: Path | None = None  # folder of CSCA certificates (PEM or DER)


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


@dataclass(frozen=True)
class TimeoutsConfig:
    document_s: float = 10.0  # chip read, from card found to PA done
    capture_s: float = 8.0  # live face search, then failure to acquire
    verify_s: float = 3.0  # embedding and comparison
    exit_open_s: float = 5.0  # door confirmed open after the command
    passage_s: float = 15.0  # traveller through the exit after it opened
    idle_poll_s: float = 0.5  # how often the idle gate looks for a document


@dataclass(frozen=True)
class AuditConfig:
    path: Path = Path("audit.db")
    salt_path: Path | None = None  # default: beside the database


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

    def policy(self) -> DecisionPolicy:
        return DecisionPolicy(
            target_fmr=self.face.target_fmr,
            liveness_threshold=self.liveness.threshold,
            require_passive_auth=self.document.require_passive_auth,
            refer_on_active_auth_invalid=self.document.refer_on_active_auth_invalid,
            check_expiry=self.document.check_expiry,
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
    if source != "stdin" and not expand_user("reader.mrz_source", source).is_absolute():
        reader = dataclasses.replace(cfg.reader, mrz_source=str(base / source))
        cfg = dataclasses.replace(cfg, reader=reader)
    return cfg


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular_file(
    path: Path, what: str, *, max_bytes: int, error: type[GateError] = ConfigError
) -> tuple[BinaryIO, int]:
    """``path`` opened for reading and its size, refused with ``error`` naming ``what`` and
    the file when it is missing, a directory, a FIFO, a device or larger than ``max_bytes``.

    The path is checked with ``stat`` before it is opened, because opening a FIFO blocks
    until a writer comes; it is opened non-blocking and checked again on the open file, in
    case the path was swapped in between.
    """
    prefix = f"cannot read {what} {path}"
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            stream = os.fdopen(fd, "rb")
            info = os.fstat(stream.fileno())
    except FileNotFoundError as exc:
        raise error(f"{prefix}: no such file") from exc
    except OSError as exc:
        raise error(f"{prefix}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a NUL byte in the path
        raise error(f"{prefix}: not a valid path ({exc})") from exc
    if not stat.S_ISREG(mode):
        raise error(f"{prefix}: it is {_kind_of(mode)}, not a regular file")
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        stream.close()
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{prefix}: it is {_kind_of(info.st_mode)}, not a regular file")
        raise error(f"{prefix}: {info.st_size} bytes, over the {max_bytes}-byte limit")
    return stream, info.st_size


def read_regular_file(
    path: Path, what: str, *, max_bytes: int, error: type[GateError] = ConfigError
) -> bytes:
    """The bytes of ``path``, refused like ``open_regular_file`` refuses it."""
    stream, _ = open_regular_file(path, what, max_bytes=max_bytes, error=error)
    with stream:
        try:
            data = stream.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # it grew while being read
        raise error(f"cannot read {what} {path}: over the {max_bytes}-byte limit")
    return data


# What the depth scan stops at: brackets, dots (key parts), comments and string openers;
# after a dot also what ends a key (=, a comma, a line end). The rest is skipped in one step.
_TOML_SPECIAL = re.compile(r"""[\[\]{}.#"']""")
_TOML_SPECIAL_IN_KEY = re.compile(r"""[\[\]{}=,\n.#"']""")
# The rest of a string after its opener, closing quotes included; "unrolled" so that each
# runs in linear time even when the string never closes. A multi-line string may end in one
# or two more quotes that belong to its content.
_TOML_STRING_REST = {
    '"""': re.compile(r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""(?:""?)?', re.DOTALL),
    "'''": re.compile(r"[^']*(?:'(?!'')[^']*)*'''(?:''?)?"),
    '"': re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"'),
    "'": re.compile(r"[^'\n]*'"),
}


def toml_nesting_depth(text: str, stop_above: int = MAX_TOML_DEPTH) -> int:
    """An upper bound of how deep a TOML document nests: open ``[`` and ``{`` plus the parts
    of a dotted key (``a.b.c``), with strings and comments skipped. Linear in the text and
    never recursive, so it is safe on documents that would overflow ``tomllib``'s stack;
    it returns as soon as the depth passes ``stop_above``."""
    depth = deepest = dots = pos = 0
    while found := (_TOML_SPECIAL_IN_KEY if dots else _TOML_SPECIAL).search(text, pos):
        ch, pos = found.group(), found.end()
        if ch in "\"'":
            opener = text[found.start() : found.start() + 3]
            opener = opener if opener in ('"""', "'''") else ch
            closed = _TOML_STRING_REST[opener].match(text, found.start() + len(opener))
            if closed is None:
                break  # unterminated: tomllib stops there too, and says where
            pos = closed.end()
        elif ch == "#":
            newline = text.find("\n", pos)
            pos = len(text) if newline < 0 else newline
        elif ch == ".":
            dots += 1  # each part of a dotted key is a level (a float's one dot costs one)
        elif ch in "[{":
            depth, dots = depth + 1, 0
        elif ch in "]}":
            depth, dots = max(0, depth - 1), 0
        else:  # "=", "," or a line end: a key or a value ends
            dots = 0
        deepest = max(deepest, depth + dots)
        if deepest > stop_above:
            break
    return deepest


def load_toml(path: Path, what: str) -> dict[str, Any]:
    """Read a TOML file for ``what`` ("config file", "scenario"): a regular file of at most
    ``MAX_TOML_BYTES``, UTF-8, nested at most ``MAX_TOML_DEPTH`` levels deep; otherwise a
    ``ConfigError`` naming the file."""
    raw = read_regular_file(path, what, max_bytes=MAX_TOML_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text ({exc.reason})") from exc
    depth = toml_nesting_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise ConfigError(f"{path}: not accepted: nested more than {MAX_TOML_DEPTH} levels deep")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError as exc:  # the scan above should have refused it; never a traceback
        raise ConfigError(f"{path}: not accepted: nested too deep to parse") from exc


def load_config(path: Path) -> GateConfig:
    """Read and validate a kiosk TOML file; errors name the file and the key."""
    data = load_toml(path, "config file")
    try:
        return config_from_mapping(data, base=path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
