"""argparse ``type=`` functions: every number on the command line is checked while the
arguments are parsed, so a bad value is one line naming the option (exit 2) and never
reaches a socket, a thread pool or a random generator as ``inf``, ``nan``, ``-1`` or 70000.

Each function takes the raw text and returns the value, or raises
``argparse.ArgumentTypeError`` whose message argparse puts after the option's name.
Only ASCII digits count as digits: ``str.isdigit`` also accepts '²', which ``int`` refuses.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import stat
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from gate.files import kind_of

# Upper bounds: far above any real use, low enough that nothing downstream overflows
# (thread waits refuse timeouts above ~292 years; numpy seeds must fit 32 bits for the
# legacy generators).
MAX_PORT = 65535
MAX_SEED = 2**32 - 1
MAX_TIMEOUT_S = 86_400.0  # a day: no device answer is worth waiting longer for
MAX_DURATION_S = 366 * 86_400.0  # "stop after": a year
MAX_FPS = 1000.0
MIN_FPS = 0.01
MAX_MIN_FACE = 100_000  # pixels; the image loader refuses pictures over 50 megapixels
MAX_COUNT = 10**9  # travellers, frames, pairs ...
MAX_SPEED = 10_000.0

# ASCII digits only; 40 digits are far past every bound and keep int() cheap.
_INTEGER = re.compile(r"[+-]?[0-9]{1,40}")


def ascii_int(text: str) -> int | None:
    """``text`` as an int when it is an optional sign and ASCII digits only; else None."""
    stripped = text.strip()
    return int(stripped) if _INTEGER.fullmatch(stripped) else None


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of ASCII digits (what ``str.isdigit`` should have meant)."""
    return text.isascii() and text.isdigit()


def _number(text: str, what: str) -> float:
    try:
        if not text.isascii():  # float() takes '１' (full-width); keep to ASCII like ints
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{what} must be a finite number, got {text!r}")
    return value


def int_range(low: int, high: int, what: str = "value") -> Callable[[str], int]:
    """An integer in ``low..high`` (both included)."""

    def parse(text: str) -> int:
        value = ascii_int(text)
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number in {low}..{high}, got {text!r}"
            )
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def float_range(
    low: float, high: float, what: str = "value", *, low_open: bool = False
) -> Callable[[str], float]:
    """A finite number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""

    def parse(text: str) -> float:
        value = _number(text, what)
        too_low = value <= low if low_open else value < low
        if too_low or value > high:
            bracket = "(" if low_open else "["
            raise argparse.ArgumentTypeError(
                f"{what} must be in {bracket}{low:g}, {high:g}], got {text!r}"
            )
        return value

    parse.__name__ = what
    return parse


def port(text: str) -> int:
    """A TCP port a client connects to: 1..65535."""
    return int_range(1, MAX_PORT, "port")(text)


def listen_port(text: str) -> int:
    """A TCP port to listen on: 1..65535, or 0 for any free port."""
    return int_range(0, MAX_PORT, "port (0: any free port)")(text)


def seed(text: str) -> int:
    """A random seed: 0..2**32-1 (numpy refuses negative seeds)."""
    return int_range(0, MAX_SEED, "seed")(text)


def timeout(text: str) -> float:
    """Seconds to wait: finite, > 0, at most a day."""
    return float_range(0.0, MAX_TIMEOUT_S, "timeout in seconds", low_open=True)(text)


def duration(text: str) -> float:
    """Seconds to run, 0 meaning "no limit" where the option says so: finite, 0..a year."""
    return float_range(0.0, MAX_DURATION_S, "duration in seconds")(text)


def positive_duration(text: str) -> float:
    """Seconds to run: finite, > 0, at most a year."""
    return float_range(0.0, MAX_DURATION_S, "duration in seconds", low_open=True)(text)


def max_threads() -> int:
    return max(1, (os.cpu_count() or 1) * 4)


def threads(text: str) -> int:
    """ONNX Runtime threads: 0 (let it choose) .. 4 per CPU core."""
    return int_range(0, max_threads(), "thread count (0: auto)")(text)


def min_face(text: str) -> int:
    """The smallest face side in pixels: 0..100000."""
    return int_range(0, MAX_MIN_FACE, "minimum face size in pixels")(text)


def fps(text: str) -> float:
    """Frames per second: finite, 0.01..1000."""
    return float_range(MIN_FPS, MAX_FPS, "frames per second")(text)


def speed(text: str) -> float:
    """A time acceleration factor: finite, > 0, at most 10000."""
    return float_range(0.0, MAX_SPEED, "speed", low_open=True)(text)


def count(text: str) -> int:
    """A count of at least one (travellers, pairs, events ...)."""
    return int_range(1, MAX_COUNT, "count")(text)


def unit_interval(text: str) -> float:
    """A score or threshold in [0, 1]."""
    return float_range(0.0, 1.0, "threshold")(text)


def impostors(text: str) -> str:
    """``all`` or a positive count, returned as given (``bench.accuracy`` parses it)."""
    if text.strip().lower() == "all":
        return text
    int_range(1, MAX_COUNT, "impostors ('all' or a count)")(text)
    return text.strip()


def since(text: str) -> float:
    """A Unix time or an ISO 8601 date/time (UTC when no zone is given), as Unix time."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is not None:
        if not math.isfinite(value) or not 0 <= value < 1e11:
            raise argparse.ArgumentTypeError(f"Unix time must be 0 .. 1e11, got {text!r}")
        return value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a Unix time nor an ISO date (2026-11-26T08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _writable_folder(folder: str, text: str) -> None:
    """Refuse ``text`` unless a file can be made in ``folder``: tried for real (a nameless
    temporary file), because ``os.access`` says yes to root on /proc and read-only mounts."""
    import tempfile

    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"{text}: cannot write in {folder} ({exc.strerror or exc})"
        ) from None


def output_file(text: str) -> str:
    """A file to write ('-': stdout where the option says so): refused when it names an
    existing directory, or its folder is missing or cannot be written. Pipes and devices
    stay allowed (``-o >(gzip)``, ``-o /dev/null``)."""
    if not text:
        raise argparse.ArgumentTypeError("output path must not be empty")
    if text == "-":
        return text
    # Checked before the command runs: a long simulation or benchmark must not end in
    # "cannot write" and lose its results.
    try:
        mode = os.stat(text).st_mode
    except FileNotFoundError:
        mode = None
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: not a usable path ({exc})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file to write")
    if mode is None or stat.S_ISREG(mode):
        _writable_folder(os.path.dirname(text) or ".", text)
    return text


def report_folder(text: str) -> Path:
    """``--report DIR``: a folder to write a report into, made when missing: an existing
    folder that can be written, or a new one under an existing, writable folder."""
    if not text:
        raise argparse.ArgumentTypeError("report folder must not be empty")
    path = Path(text)
    try:
        exists = path.exists()
        if exists and not path.is_dir():
            raise argparse.ArgumentTypeError(
                f"{text} is {kind_of(path.stat().st_mode)}, not a folder"
            )
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: not a usable path ({exc})") from None
    ancestor = path if exists else path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent  # the folders in between are made with the report
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {ancestor} is not a folder")
    _writable_folder(str(ancestor), text)
    return path


AUDIT_TABLES = ("entries",)  # gate.audit.store's schema


def audit_log(text: str) -> str:
    """``--audit PATH``: an audit log to write. Refused now, before a run: an empty path,
    a folder, a FIFO or device, a file that is not an SQLite database, another program's
    database (egate's tables are never added to it), a folder that cannot be written."""
    from gate.errors import GateError
    from gate.sqlite_files import check_database_file

    if not text:
        raise argparse.ArgumentTypeError("audit log path must not be empty")
    try:
        check_database_file(Path(text), "audit log", AUDIT_TABLES)
    except GateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    _writable_folder(os.path.dirname(text) or ".", text)
    return text


def sample_or_path(text: str) -> str:
    """A photo: a path, or ``sample:NAME[#INDEX]`` with an ASCII face index."""
    if text.startswith("sample:"):
        name, hash_sign, index = text[len("sample:") :].partition("#")
        if not name or (hash_sign and not is_ascii_digits(index)):
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected sample:NAME or sample:NAME#INDEX (INDEX: digits 0-9)"
            )
    elif not text:
        raise argparse.ArgumentTypeError("photo path must not be empty")
    else:  # decoded now, so a bad photo is refused before a benchmark starts
        from gate.images import load_image

        _checked_file(text, load_image)
    return text


def _stat(text: str) -> os.stat_result:
    if not text:
        raise argparse.ArgumentTypeError("path must not be empty")
    try:
        return os.stat(text)  # stat, never open: opening a FIFO blocks until a writer comes
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc.strerror or exc}") from None
    except ValueError:  # an embedded NUL byte
        raise argparse.ArgumentTypeError(f"{text!r}: not a valid path") from None


def regular_file(text: str) -> Path:
    """An existing regular file (not a FIFO, device or directory), as a Path."""
    mode = _stat(text).st_mode
    if not stat.S_ISREG(mode):
        raise argparse.ArgumentTypeError(f"{text} is {kind_of(mode)}, not a regular file")
    return Path(text)


def directory(text: str) -> Path:
    """An existing directory, as a Path."""
    mode = _stat(text).st_mode
    if not stat.S_ISDIR(mode):
        raise argparse.ArgumentTypeError(f"{text} is {kind_of(mode)}, not a directory")
    return Path(text)


def _checked_file(text: str, load: Callable[[Path], object]) -> Path:
    """``text`` as a Path after ``load`` read it (a ``GateError`` becomes the refusal), so a
    file that cannot be used is refused while the arguments are parsed, before any run."""
    from gate.errors import GateError

    if not text:
        raise argparse.ArgumentTypeError("path must not be empty")
    path = Path(text)
    try:
        load(path)
    except GateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


def pem_certificate(text: str) -> Path:
    """A PEM or DER certificate file (``--tls-cert``), read and parsed now."""
    from gate.pem_files import load_certificates

    return _checked_file(text, lambda path: load_certificates(path, "certificate"))


def pem_private_key(text: str) -> Path:
    """An unencrypted PEM private key file (``--tls-key``), read and parsed now."""
    from gate.pem_files import load_private_key

    return _checked_file(text, lambda path: load_private_key(path, "private key"))


def ed25519_key(what: str, *, private: bool) -> Callable[[str], Path]:
    """A PEM Ed25519 key file (public or private), read and checked now."""
    from gate.errors import ConfigError

    def check(path: Path) -> None:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        from gate.pem_files import load_private_key, load_public_key

        key: object = load_private_key(path, what) if private else load_public_key(path, what)
        wanted = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
        if not isinstance(key, wanted):
            side = "private" if private else "public"
            raise ConfigError(f"{what} {path}: not an Ed25519 {side} key")

    return lambda text: _checked_file(text, check)


def console_public_keys(text: str) -> str:
    """``--trust-console``: a console public key file, or a folder of ``*.pub``; every key is
    read now, so a FIFO, a folder without keys or a wrong file is refused before the lane
    starts."""
    from gate.lane import load_public_keys

    _checked_file(text, load_public_keys)
    return text


def users_file(text: str) -> str:
    """``--users``: the console accounts file; a new path, or an accounts file read now."""
    from gate.console.users import Users

    if not text:
        raise argparse.ArgumentTypeError("path must not be empty")
    if os.path.lexists(text):
        _checked_file(text, Users.load)
    return text


def scenario_file(text: str) -> Path:
    """``--scenario``: a scenario TOML, read and checked now (before any lane starts)."""
    from gate.simulate.scenario import load_scenario

    return _checked_file(text, load_scenario)
