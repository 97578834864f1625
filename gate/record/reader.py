"""Reading a recording back (``docs/recording.md``), refusing anything else with one line.

A recording folder comes from anywhere (a colleague's pilot lane, an archive), so it is read
as hostile: nothing is followed through a symbolic link, only regular files of bounded size
are opened (``gate.files``), JSON through the values layer's parser (depth, numbers, repeated
keys: ``gate.json_files``), pictures through the one image decoder with frame limits
(``gate.images``), file names only of the shapes the format writes. An unknown
``format_version`` is refused. A transaction folder without its ``transaction.json`` (the
lane stopped mid-way) is listed as incomplete and left out.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.files import kind_of, read_regular_file
from gate.images import PNG, ImageLimits, decode_image
from gate.json_files import load_json_object
from gate.outcome import Decision
from gate.record import folder as disk
from gate.types import ImageBGR

MAX_TRANSACTIONS = 100_000
MAX_FRAMES = 10_000  # per transaction: five minutes of a 30 fps camera
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_CHIP_FILE = 0x80000  # what the chip reader accepts for one file
# A recorded frame: a PNG of at most 64 MiB and 8K UHD.
FRAME_LIMITS = ImageLimits(
    max_bytes=64 * 1024 * 1024, max_pixels=7680 * 4320, min_side=8, formats=frozenset({PNG})
)
ERROR_TYPES = (
    "DocumentError",
    "SecurityError",
    "UnreadableMrz",
    "DeviceError",
    "DeviceTimeoutError",
    "DeviceGoneError",
    "ProtocolError",
    "FaceError",
    "InputError",
    "GateError",
)


@dataclass(frozen=True)
class RecordedFrame:
    path: Path
    t: float  # when it was taken, seconds after the transaction started (gate clock)
    index: int  # the camera's frame number
    read: float  # when the capture's read of it returned, seconds after the start

    def image(self) -> ImageBGR:
        """The frame's picture; ``InputError`` naming the file when it is not a usable PNG."""
        data = _read(self.path, "recorded frame", FRAME_LIMITS.max_bytes)
        return decode_image(data, disk.shown(self.path), limits=FRAME_LIMITS, error=InputError)


@dataclass(frozen=True)
class RecordedDocument:
    mrz: str = field(repr=False)  # the printed MRZ as the page reader gave it
    files: Mapping[str, bytes] = field(repr=False)  # "DG1", "DG2", "EF.SOD"... as read
    passive_auth: str = "not_checked"
    active_auth: str = "not_supported"
    chip_auth: str = "not_supported"
    access: str = ""
    error_type: str = ""  # the read failed: the error's class and message
    error: str = ""


@dataclass(frozen=True)
class RecordedTransaction:
    folder: Path
    transaction_id: str
    started_at: float
    label: str
    kind: str | None  # the traveller's kind where the recorder knew it (the simulator)
    expected: Decision | None
    document: RecordedDocument | None
    frames: tuple[RecordedFrame, ...]
    capture_started: float | None  # seconds after the start; None: no capture stage
    capture_ended: float | None  # when the capture gave its result
    turnstile: tuple[Mapping[str, Any], ...]
    outcome: Decision
    outcome_detail: str
    score: float | None
    pack_id: str | None

    @property
    def name(self) -> str:
        return self.folder.name


@dataclass(frozen=True)
class Recording:
    folder: Path
    producer: str
    transactions: tuple[RecordedTransaction, ...]
    incomplete: tuple[str, ...] = ()  # transaction folders without their transaction.json


def load_recording(path: Path) -> Recording:
    """The recording in ``path``; ``InputError`` (one line) for anything else."""
    where = disk.shown(path)
    _require(path, stat.S_ISDIR, "a folder")
    manifest = _object(path / disk.MANIFEST, "recording manifest", 65536)
    if manifest.get("format") != disk.FORMAT:
        raise InputError(f"{where}: not an egate recording (format {manifest.get('format')!r})")
    _check_version(manifest, f"recording {where}")
    names = _entries(path)
    transactions, incomplete = [], []
    for name in sorted(names):
        folder = path / name
        _require(folder, stat.S_ISDIR, "a folder")
        try:
            os.lstat(folder / disk.TRANSACTION_FILE)
        except FileNotFoundError:
            incomplete.append(name)
            continue
        except OSError as exc:
            raise InputError(f"cannot read {disk.shown(folder)}: {exc.strerror}") from exc
        transactions.append(_transaction(folder))
    transactions.sort(key=lambda t: (t.started_at, t.name))  # in the order they happened
    return Recording(path, _text(manifest, "producer", where, ""), tuple(transactions),
                     tuple(incomplete))  # fmt: skip


def _entries(path: Path) -> list[str]:
    """The transaction folders' names; anything else in a recording is refused."""
    names = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name == disk.MANIFEST:
                    continue
                if disk.started_of(entry.name) is None:
                    raise InputError(
                        f"{disk.shown(path)}: unexpected entry '{disk.shown(entry.name)}' (a "
                        f"recording holds {disk.MANIFEST} and transaction folders)"
                    )
                names.append(entry.name)
                if len(names) > MAX_TRANSACTIONS:
                    raise InputError(f"{disk.shown(path)}: over {MAX_TRANSACTIONS} transactions")
    except OSError as exc:
        raise InputError(f"cannot list {disk.shown(path)}: {exc.strerror}") from exc
    return names


def _transaction(folder: Path) -> RecordedTransaction:
    source = disk.shown(folder / disk.TRANSACTION_FILE)
    data = _object(folder / disk.TRANSACTION_FILE, "transaction file", MAX_MANIFEST_BYTES)
    _check_version(data, source)
    frames_data = _list(data, "frames", source)
    if len(frames_data) > MAX_FRAMES:
        raise InputError(f"{source}: {len(frames_data)} frames, over {MAX_FRAMES}")
    frames = tuple(_frame(folder, item, source) for item in frames_data)
    traveller = data.get("traveller")
    kind = expected = None
    if traveller is not None:
        if not isinstance(traveller, dict):
            raise InputError(f"{source}: 'traveller' must be an object or null")
        kind = _text(traveller, "kind", source, "") or None
        expected = _decision(traveller.get("expected"), source, "traveller.expected", True)
    outcome = data.get("outcome")
    if not isinstance(outcome, dict):
        raise InputError(f"{source}: 'outcome' must be an object")
    decision = _decision(outcome.get("decision"), source, "outcome.decision", False)
    assert decision is not None
    turnstile = tuple(_event(item, source) for item in _list(data, "turnstile", source))
    return RecordedTransaction(
        folder=folder,
        transaction_id=_text(data, "transaction_id", source),
        started_at=_number(data.get("started_at"), source, "started_at"),
        label=_text(data, "label", source, ""),
        kind=kind,
        expected=expected,
        document=_document(folder, data.get("document"), source),
        frames=frames,
        capture_started=_optional_number(data.get("capture_started"), source, "capture_started"),
        capture_ended=_optional_number(data.get("capture_ended"), source, "capture_ended"),
        turnstile=turnstile,
        outcome=decision,
        outcome_detail=_text(outcome, "detail", source, ""),
        score=_optional_number(outcome.get("score"), source, "outcome.score"),
        pack_id=_text(outcome, "pack_id", source, "") or None,
    )


def _document(folder: Path, value: object, source: str) -> RecordedDocument | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"{source}: 'document' must be an object or null")
    mrz = value.get("mrz")
    if not isinstance(mrz, list) or not all(isinstance(line, str) for line in mrz):
        raise InputError(f"{source}: 'document.mrz' must be a list of lines")
    if len(mrz) > 3 or any(len(line) > 128 for line in mrz):
        raise InputError(f"{source}: 'document.mrz' is not the lines of an MRZ")
    error = value.get("error")
    error_type = message = ""
    if error is not None:
        if not isinstance(error, dict):
            raise InputError(f"{source}: 'document.error' must be an object or null")
        error_type, message = _text(error, "type", source), _text(error, "message", source, "")
        if error_type not in ERROR_TYPES:
            raise InputError(f"{source}: 'document.error.type' {error_type!r} is not one of "
                             f"{', '.join(ERROR_TYPES)}")  # fmt: skip
    chip = value.get("chip")
    files: dict[str, bytes] = {}
    statuses: dict[str, str] = {}
    if chip is not None:
        if not isinstance(chip, dict) or not isinstance(chip.get("files"), dict):
            raise InputError(f"{source}: 'document.chip' must be an object with 'files'")
        for name, relative in chip["files"].items():
            if (
                not isinstance(relative, str)
                or not disk.CHIP_NAME.match(relative)
                or (relative != f"chip/{name}.bin")
            ):
                raise InputError(f"{source}: chip file '{disk.shown(str(relative))}' is not "
                                 "one of the format's names")  # fmt: skip
            files[name] = _read(folder / relative, "recorded chip file", MAX_CHIP_FILE)
        for key in ("passive_auth", "active_auth", "chip_auth", "access"):
            statuses[key] = _text(chip, key, source, "")
    elif not error_type:
        raise InputError(f"{source}: a document with neither 'chip' nor 'error'")
    return RecordedDocument("\n".join(mrz), files, error_type=error_type, error=message,
                            **statuses)  # fmt: skip


def _frame(folder: Path, item: object, source: str) -> RecordedFrame:
    if not isinstance(item, dict):
        raise InputError(f"{source}: each frame must be an object")
    relative = item.get("file")
    if not isinstance(relative, str) or not disk.FRAME_NAME.match(relative):
        raise InputError(f"{source}: frame file '{disk.shown(str(relative))}' is not one of "
                         "the format's names (frames/NNNNNN.png)")  # fmt: skip
    index = item.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2**53:
        raise InputError(f"{source}: frame {relative}: 'index' must be a count")
    path = folder / relative
    _require(path, stat.S_ISREG, "a regular file")
    taken = _number(item.get("t"), source, f"frame {relative} 't'")
    return RecordedFrame(
        path, taken, index, _number(item.get("read"), source, f"frame {relative} 'read'")
    )


def _event(item: object, source: str) -> Mapping[str, Any]:
    if not isinstance(item, dict):
        raise InputError(f"{source}: each turnstile event must be an object")
    return {
        "t": _number(item.get("t"), source, "turnstile event 't'"),
        "kind": _text(item, "kind", source),
        "detail": _text(item, "detail", source, ""),
    }


# -- small checks ------------------------------------------------------------------------------
def _require(path: Path, test: Any, what: str) -> None:
    """``path`` itself (never through a link) is ``what``."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError as exc:
        raise InputError(f"{disk.shown(path)}: missing") from exc
    except OSError as exc:
        raise InputError(f"cannot read {disk.shown(path)}: {exc.strerror}") from exc
    if not test(mode):
        found = "a symbolic link" if stat.S_ISLNK(mode) else kind_of(mode)
        raise InputError(f"{disk.shown(path)}: it is {found}, not {what}")


def _read(path: Path, what: str, limit: int) -> bytes:
    _require(path, stat.S_ISREG, "a regular file")
    return read_regular_file(path, what, max_bytes=limit, error=InputError)


def _object(path: Path, what: str, limit: int) -> dict[str, object]:
    _require(path, stat.S_ISREG, "a regular file")
    return load_json_object(path, what, max_bytes=limit, error=InputError)


def _check_version(data: Mapping[str, object], source: str) -> None:
    version = data.get("format_version")
    if version != disk.FORMAT_VERSION or isinstance(version, bool):
        raise InputError(f"{source}: format_version {version!r} is not one this egate reads "
                         f"({disk.FORMAT_VERSION})")  # fmt: skip


def _list(data: Mapping[str, object], key: str, source: str) -> list[object]:
    value = data.get(key)
    if not isinstance(value, list):
        raise InputError(f"{source}: {key!r} must be a list")
    return value


def _text(data: Mapping[str, object], key: str, source: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or len(value) > 4096:
        raise InputError(f"{source}: {key!r} must be text")
    return value


def _number(value: object, source: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{source}: {what} must be a number")
    return float(value)


def _optional_number(value: object, source: str, what: str) -> float | None:
    return None if value is None else _number(value, source, what)


def _decision(value: object, source: str, what: str, optional: bool) -> Decision | None:
    if value is None and optional:
        return None
    try:
        return Decision(value)
    except ValueError as exc:
        raise InputError(f"{source}: {what} {value!r} is not a decision") from exc
