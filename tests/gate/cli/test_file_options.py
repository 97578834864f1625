"""Every option that names a file ``egate`` reads, given a hostile file (issue 23, part 4).

The options are found in the parser ``gate.cli`` builds: every option or positional whose
type is ``regular_file`` or ``directory``, or whose name says it is a path (``--config``,
``--users``, ``--db`` ...), must be listed in ``READS`` below (with a command line that is
valid apart from it) or in ``NOT_READ`` with the reason; an option added later fails
``test_every_file_option_is_listed`` until it is. Each listed option is then given, one at
a time: a FIFO, a folder, an empty file, a file whose name is not UTF-8, a file nested
100,000 levels deep, a file of 50 MB (sparse) and a file of the wrong type. Each case must end
with exit 1 or 2 and one stderr line naming the file: no traceback, no hang (a SIGALRM
interrupts a blocked ``open``), and no service started with it.

``make test`` runs a fixed subset of the cases per option (the FIFO, the deep file and one
more, chosen by the option's place in the table); ``make fuzz`` (``EGATE_FUZZ_EXAMPLES``
set) runs them all.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from gate.cli import build_parser, main
from tests.fuzz.profile import fuzzing
from tests.gate.cli.services import DEVICES, ServiceReached, stub_services
from tests.gate.console.certs import self_signed

HANG_S = 20  # a case that blocks this long has hung (a FIFO opened)
CASES = ("fifo", "folder", "empty", "non-utf8-name", "deep", "big", "wrong-type")
DEPTH = 100_000
BIG_BYTES = 50 * 1024 * 1024

# The files a command line needs besides the hostile one, made once per test (see ``Kit``).
# Placeholders in the argv: "@X" is the hostile path; "@IMG", "@PKI", "@DB", "@FILE" are
# valid inputs from the kit.


@dataclass(frozen=True)
class Reads:
    argv: tuple[str, ...]
    kind: str = "file"  # "file" or "folder": what a good value is
    accepts: frozenset[str] = frozenset()  # cases that are valid input for this option


def _r(*argv: str, kind: str = "file", accepts: tuple[str, ...] = ()) -> Reads:
    return Reads(tuple(argv), kind, frozenset(accepts))


# The holder of ``passport issue``: valid fields, for the file options to be the only fault.
HOLDER = ("--surname", "DOE", "--given-names", "ANA", "--birth", "900101", "--expiry", "351231",
          "--nationality", "UTO", "--sex", "F", "--number", "L01X00T47")  # fmt: skip

READS: dict[tuple[str, str], Reads] = {
    ("models verify", "pack"): _r("models", "verify", "@X", kind="folder"),
    ("verify", "left"): _r("verify", "@X", "@IMG"),
    ("verify", "right"): _r("verify", "@IMG", "@X"),
    ("embed", "images"): _r("embed", "@X"),
    ("mrz read", "image"): _r("mrz", "read", "@X"),
    ("bench mrz", "folder"): _r("bench", "mrz", "--no-progress", "--folder", "@X", kind="folder"),
    ("bench accuracy", "pairs"): _r("bench", "accuracy", "--root", "@DIR", "--pairs", "@X"),
    ("bench accuracy", "dataset"): _r("bench", "accuracy", "--dataset", "@X"),
    ("bench accuracy", "root"): _r(
        "bench", "accuracy", "--dataset", "@LFW", "--root", "@X", kind="folder"
    ),
    ("bench render-fidelity", "dataset"): _r("bench", "render-fidelity", "--dataset", "@X"),
    ("bench render-fidelity", "root"): _r(
        "bench", "render-fidelity", "--dataset", "@LFW", "--root", "@X", kind="folder"
    ),
    ("bench calibrate", "dataset"): _r("bench", "calibrate", "--pack", "fusion", "--dataset", "@X"),
    ("bench calibrate", "root"): _r(
        "bench", "calibrate", "--pack", "fusion", "--dataset", "@LFW", "--root", "@X", kind="folder"
    ),
    ("bench throughput", "scenario"): _r("bench", "throughput", "--scenario", "@X"),
    ("bench soak", "scenario"): _r("bench", "soak", "--scenario", "@X"),
    ("bench pad", "photos"): _r("bench", "pad", "--photos", "@X"),
    ("pki revoke", "dir"): _r("pki", "revoke", "@X", "--certificate", "@FILE", kind="folder"),
    ("pki revoke", "certificate"): _r("pki", "revoke", "@PKI", "--certificate", "@X"),
    ("pki crl", "dir"): _r("pki", "crl", "@X", kind="folder"),
    ("pki import", "master_list"): _r("pki", "import", "@X", "--anchor", "@CSCA", "--out", "@NEW"),
    ("passport issue", "photo"): _r(
        "passport", "issue", "--pki", "@PKI", "--photo", "@X", "--out", "@NEW", *HOLDER
    ),
    ("passport issue", "pki"): _r(
        "passport",
        "issue",
        "--pki",
        "@X",
        "--photo",
        "@IMG",
        "--out",
        "@NEW",
        *HOLDER,
        kind="folder",
    ),
    ("chip serve", "passport"): _r("chip", "serve", "@X", kind="folder"),
    ("emulate camera", "photo"): _r("emulate", "camera", "--port", "0", "--photo", "@X"),
    ("run", "config"): _r("run", "--config", "@X", accepts=("empty",)),
    ("kiosk install", "config"): _r(
        "kiosk", "install", "--config", "@X", "--unit-dir", "@DIR", accepts=("empty",)
    ),
    ("run", "users"): _r("run", "--config", "@CONFIG", "--users", "@X", "--console", "127.0.0.1:0"),
    ("simulate", "scenario"): _r("simulate", "--scenario", "@X"),
    ("simulate", "dataset"): _r("simulate", "--dataset", "@X"),
    ("simulate", "root"): _r("simulate", "--dataset", "@LFW", "--root", "@X", kind="folder"),
    ("simulate", "users"): _r("simulate", "--users", "@X", "--console", "127.0.0.1:0"),
    ("audit export", "db"): _r("audit", "export", "--db", "@X"),
    ("audit export", "salt"): _r("audit", "export", "--db", "@DB", "--salt", "@X"),
    ("audit verify", "db"): _r("audit", "verify", "--db", "@X"),
    ("audit verify", "salt"): _r("audit", "verify", "--db", "@DB", "--salt", "@X"),
    ("audit verify", "export"): _r("audit", "verify", "--export", "@X", "--salt", "@SALT"),
    ("audit verify", "checkpoint"): _r("audit", "verify", "--db", "@DB", "--checkpoint", "@X"),
    ("console user add", "users"): _r(
        "console", "user", "add", "ana", "--role", "officer", "--users", "@X"
    ),
    ("console", "users"): _r("console", "--users", "@X"),
    ("broker serve", "folder"): _r("broker", "serve", "@X", kind="folder"),
    ("console", "broker"): _r(
        "console", "--users", "@USERS", "--key", "@CONSOLEKEY", "--broker", "@X"
    ),
    ("run", "broker"): _r("run", "--config", "@CONFIG", "--broker", "@X"),
    ("simulate", "broker"): _r("simulate", "--broker", "@X"),
    ("demo", "broker"): _r("demo", "--broker", "@X"),
    ("demo", "users"): _r("demo", "--users", "@X", "--console", "127.0.0.1:0"),
    ("run", "trust_console"): _r("run", "--config", "@CONFIG", "--trust-console", "@X"),
    ("simulate", "trust_console"): _r("simulate", "--trust-console", "@X"),
    ("demo", "trust_console"): _r("demo", "--trust-console", "@X"),
    ("console", "key"): _r(
        "console", "--users", "@USERS", "--key", "@X", "--broker", "mqtt://127.0.0.1:1"
    ),
    ("console", "tls_cert"): _r(
        "console", "--users", "@USERS", "--tls-cert", "@X", "--tls-key", "@TLSKEY"
    ),
    ("console", "tls_key"): _r(
        "console", "--users", "@USERS", "--tls-cert", "@TLSCERT", "--tls-key", "@X"
    ),
    ("broker init", "tls_cert"): _r(
        "broker", "init", "@NEW", "--lane", "l1", "--tls-cert", "@X", "--tls-key", "@TLSKEY"
    ),
    ("broker init", "tls_key"): _r(
        "broker", "init", "@NEW", "--lane", "l1", "--tls-cert", "@TLSCERT", "--tls-key", "@X"
    ),
    ("bench identify", "dataset"): _r("bench", "identify", "--dataset", "@X"),
    ("bench identify", "root"): _r(
        "bench", "identify", "--dataset", "@LFW", "--root", "@X", kind="folder"
    ),
    ("watchlist init", "signer"): _r("watchlist", "init", "--store", "@NEW", "--signer", "@X"),
    ("watchlist import", "file"): _r("watchlist", "import", "@X", "--store", "@NEW"),
    ("watchlist add-face", "photo"): _r(
        "watchlist", "add-face", "@X", "--list", "l", "--label", "r", "--store", "@NEW"
    ),
    ("watchlist add-faces", "folder"): _r(
        "watchlist", "add-faces", "@X", "--list", "l", "--store", "@NEW", kind="folder"
    ),
    ("watchlist sign", "content"): _r(
        "watchlist", "sign", "@X", "--key", "@WATCHKEY", "-o", "@NEW"
    ),
    ("watchlist sign", "key"): _r("watchlist", "sign", "@FILE", "--key", "@X", "-o", "@NEW"),
}
# Path-like options that are not read as a file of their own, with the reason.
NOT_READ: dict[tuple[str, str], str] = {
    ("pki init", "dir"): "a new folder to write (tests/gate/simulate/test_pki_refusals.py)",
    ("pki import", "out"): "written",
    ("pki import", "anchor"): "read only after the master list, which is tried above",
    ("passport issue", "out"): "written",
    ("chip read", "trust"): "read after a reader is found; TrustStore.from_folder is tested",
    ("bench accuracy", "cache"): "a cache folder, written",
    ("bench identify", "cache"): "a cache folder, written",
    ("watchlist sign", "out"): "written",
    ("console keygen", "path"): "written (never overwritten)",
    ("broker init", "folder"): "a new folder to write",
    ("simulate", "config"): "read after the --replay recording; as run --config (tried above)",
}
# Where a name alone says "a path": the options without a checked type that still name files.
PATH_NAMES = {
    "config",
    "scenario",
    "dataset",
    "users",
    "db",
    "salt",
    "export",
    "checkpoint",
    "photo",
    "photos",
    "pairs",
    "certificate",
    "master_list",
    "anchor",
    "signer",
    "pack",
    "passport",
    "trust",
    "folder",
    "dir",
    "path",
    "images",
    "left",
    "right",
    "root",
    "cache",
    "out",
    "trust_console",
    "tls_cert",
    "tls_key",
    "key",
    "broker",  # a URL, or the credentials file ``broker init`` wrote
}
# Read by the face engine's loader, which the in-process run replaces; ``models verify``
# reads a pack folder the same way and is listed above.
PACK_OPTIONS = "pack"


def _walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield from _walk(sub, (*words, name))
            if words:
                continue
            return
    for action in parser._actions:  # noqa: SLF001
        if not isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            yield " ".join(words), action


def _file_options() -> list[tuple[str, str]]:
    found = []
    for command, action in _walk(build_parser(), ()):
        if action.nargs == 0 or action.choices is not None:
            continue
        name = getattr(action.type, "__name__", "")
        if name in ("regular_file", "directory") or action.dest in PATH_NAMES:
            found.append((command, action.dest))
    return found


def test_every_file_option_is_listed() -> None:
    found = _file_options()
    missing = [
        option
        for option in found
        if option not in READS and option not in NOT_READ and option[1] != PACK_OPTIONS
    ]
    assert not missing, f"options that read a file but are not tried here: {missing}"
    stale = [option for option in READS if option not in found]
    assert not stale, f"listed options the parser no longer has: {stale}"


# -- the kit of valid inputs and the hostile files --------------------------------------------


class Kit:
    """Valid inputs the command lines need besides the hostile file, made on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(exist_ok=True)

    def get(self, name: str) -> str:
        path = self.folder / name.lstrip("@").lower()
        if name == "@NEW":
            (self.folder / "new").mkdir(exist_ok=True)
            return str(self.folder / "new" / str(len(list((self.folder / "new").iterdir()))))
        if name in ("@CSCA", "@SALT"):
            return self.get("@PKI") + "/csca.pem" if name == "@CSCA" else self.get("@DB") + ".salt"
        if path.exists():
            return str(path)
        if name == "@IMG":
            import cv2
            import numpy as np

            path = path.with_suffix(".png")
            if not path.exists():
                cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
        elif name == "@PKI":
            from gate.simulate.pki import init_pki

            init_pki(path)
        elif name == "@DB":
            from gate.audit import AuditLog

            with AuditLog.open(path):
                pass
        elif name == "@USERS":
            from gate.console.users import Users

            Users.load(path).add("ana", "officer", "a long enough password")
        elif name == "@LFW":
            path = path.with_suffix(".txt")
            path.write_text("1\t1\nAaron_Peirsol\t1\t2\n")
        elif name == "@CONFIG":
            path.write_text("")
        elif name == "@DIR":
            path.mkdir()
        elif name == "@CONSOLEKEY":
            from gate.console.signing import ConsoleKey

            ConsoleKey.generate().save(path)
        elif name in ("@TLSCERT", "@TLSKEY"):
            tls = self.folder / "tls"
            if not tls.exists():
                tls.mkdir()
                self_signed(tls)
            return str(tls / ("cert.pem" if name == "@TLSCERT" else "key.pem"))
        elif name == "@FILE":
            path.write_text("a file\n")
        elif name == "@WATCHKEY":
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            path.write_bytes(
                Ed25519PrivateKey.generate().private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return str(path)


def _deep(kind: str) -> bytes:
    return b"[" * DEPTH if kind != "toml" else b"x = " + b"[" * DEPTH


def make_case(case: str, folder: Path, reads: Reads) -> tuple[str, str]:
    """The hostile path for ``case`` and a marker the error line must contain."""
    marker = f"hostile-{case}"
    path = folder / marker
    if case == "fifo":
        os.mkfifo(path)
    elif case == "folder":
        path.mkdir()
        if reads.kind == "folder":  # an empty folder of the wrong kind: put a stray file in
            (path / "stray.txt").write_text("not what was expected\n")
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "non-utf8-name":
        raw = os.fsencode(folder) + b"/" + marker.encode() + b"-\xff\xfe"
        if reads.kind == "folder":
            os.mkdir(raw)
        else:
            with open(raw, "wb") as out:
                out.write(b"\xff\xfe not utf-8 either\n")
        return os.fsdecode(raw), marker
    elif case == "deep":
        path.write_bytes(b"x = " + b"[" * DEPTH)
    elif case == "big":
        with open(path, "wb") as out:
            out.truncate(BIG_BYTES)
    elif case == "wrong-type":
        if reads.kind == "folder":
            path.write_text("a file where a folder belongs\n")
        else:
            path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return str(path), marker


# -- running one case --------------------------------------------------------------------------


class Hung(Exception):
    pass


class FakeEngine:
    pack_id = "fake"
    distance_name = "cosine"

    def threshold(self, fmr: str = "1e-3") -> float:
        return 0.5

    def embed_one(self, image: Any, **options: Any) -> Any:
        """A face in every image that decodes: the hostile one must be refused first."""
        import numpy as np

        return np.ones(4, np.float32)

    def analyze(self, image: Any, **options: Any) -> list[Any]:
        return []


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hung(f"no answer in {HANG_S} s")


def run_case(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int | str, str]:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_S)
    try:
        code: int | str = main(argv)
    except ServiceReached as exc:
        code = f"service reached: {exc}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, capsys.readouterr().err


def _selected() -> list[tuple[tuple[str, str], str]]:
    chosen = []
    for index, option in enumerate(READS):
        for number, case in enumerate(CASES):
            fast = case in ("fifo", "deep") or number == 1 + index % 6
            if fuzzing() or fast:
                chosen.append((option, case))
    return chosen


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return Kit(tmp_path_factory.mktemp("kit"))


@pytest.mark.timeout(HANG_S * 3)
@pytest.mark.parametrize(("option", "case"), _selected(), ids=lambda v: str(v).replace(" ", "-"))
def test_a_hostile_file_is_refused_in_one_line(
    option: tuple[str, str],
    case: str,
    kit: Kit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reads = READS[option]
    monkeypatch.setenv("EGATE_HOME", str(tmp_path / "egate-home"))
    monkeypatch.setenv("EGATE_TURNSTILE", "")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    monkeypatch.chdir(tmp_path)
    stub_services(monkeypatch, FakeEngine(), (*DEVICES, "drivers.chip.pcscd.ensure_pcscd"))
    hostile, marker = make_case(case, tmp_path, reads)
    argv = [
        hostile if word == "@X" else kit.get(word) if word.startswith("@") else word
        for word in reads.argv
    ]
    code, err = run_case(argv, capsys)
    if case in reads.accepts:
        return
    lines = err.splitlines()
    assert code in (1, 2), (code, err)
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert marker in lines[0], f"the line does not name the file: {lines[0]}"


def test_the_kit_makes_a_valid_audit_log(kit: Kit) -> None:
    """The audit cases above refuse the hostile file, not a broken ``@DB``."""
    with sqlite3.connect(kit.get("@DB")) as db:
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
