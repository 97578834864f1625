"""Generated bad invocations of every ``egate`` command (issue "Safety and integrity", part 6).

Each example is one call of ``gate.cli.main(argv)`` in this process with at least one thing
wrong: a number out of range (``nan``, ``inf``, ``-1``, ``70000``, '²'), an unknown option, an
invalid choice, a missing argument, or a file that is a FIFO, a directory, a symlink loop, a
device, random bytes, 30,000-deep TOML, a pickle declaring 2**60 bytes ... The command must
end with exit 1 or 2 and exactly one line on stderr, and no traceback; a hang is caught by
the per-test timeout (pytest-timeout).

The commands are read from the parser itself, so a command added later is fuzzed too.
Services (the lane, the simulator, emulators, ``chip serve``, benchmarks that run lanes) get
argument-level fuzzing only: each of their invocations carries a value that argparse itself
refuses. As a safety net every service entry point is replaced by a stub that fails the
test if it is reached, and the face engine by a fake that finds no face, so no model is
loaded and nothing listens on a port.

``make test`` replays a fixed set of examples per command family; ``make fuzz`` runs
``EGATE_FUZZ_EXAMPLES`` random ones per family and prints how many invocations ran.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.cli import build_parser, main
from gate.errors import ModelError, NoFaceError
from tests.fuzz.profile import examples, fuzz_settings, fuzzing
from tests.gate.cli.services import stub_services

EXAMPLES = examples(100)  # per command family in make test (make fuzz: EGATE_FUZZ_EXAMPLES)
TIMEOUT_S = 120 + EXAMPLES  # a hang ends the test; a generous budget on a shared machine

# Commands whose success would start something long-running (or heavy): argument-level only.
SERVICES = {
    "run", "simulate", "demo", "emulate camera", "emulate turnstile", "chip serve", "turnstile",
    "bench throughput", "bench soak", "bench pad", "models prepare", "console", "bench mrz",
}  # fmt: skip
FAMILIES = {
    "models": ("models",),
    "face": ("verify", "embed", "demo-verify", "mrz"),
    "bench": ("bench",),
    "chip": ("pki", "passport", "chip"),
    "devices": ("turnstile", "emulate"),
    "lane": ("run", "simulate", "demo", "kiosk"),
    "audit": ("audit", "watchlist"),
    "console": ("console", "broker"),
}
# Options that read a file whose hostile content is always refused when they load it.
HOSTILE_FILE_SLOTS = {
    ("verify", "left"): "image",
    ("verify", "right"): "image",
    ("embed", "images"): "image",
    ("mrz read", "image"): "image",
    ("bench accuracy", "dataset"): "dataset",
    ("bench calibrate", "dataset"): "dataset",
    ("models verify", "pack"): "pack",
    ("pki init", "dir"): "not-a-new-folder",
    ("run", "config"): "toml",
    ("simulate", "scenario"): "toml",
    ("audit export", "db"): "database",
    ("audit verify", "db"): "database",
}
# FIFOs that would block (none left: every file option is checked before it is opened).
NO_FIFO: set[tuple[str, str]] = set()

# Values no numeric option of gate.cli.args accepts.
BAD_NUMBERS = ["nan", "inf", "-inf", "1e999", "-1e999", "²", "٣", "１", "", " ", "x1", "9" * 45,
               "1e300", "0x10", "1,5"]  # fmt: skip
ANY_NUMBER = st.one_of(
    st.sampled_from([*BAD_NUMBERS, "0", "1", "-1", "70000", "65535", "1_000", "100000", "\n1"]),
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(repr),
    st.text(max_size=6),
)
# Text an argv can hold (no NUL); "--" is left out: it turns the options after it into
# positionals, which is not a bad value but a different command line.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
).filter(lambda t: not t.startswith("--"))
ARGV_TEXT = st.one_of(TEXT, st.sampled_from(["-", "-x", "\udcff\udcfe", "a\nb", "~nouser/x"]))

COUNTS: Counter[str] = Counter()  # invocations per family, reported at the end


# -- what to create on disk for one example ---------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    kind: str  # fifo, dir, loop, dangling, missing, under-file, device, content
    suffix: str = ""
    content: bytes = b""


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))


BIG = (2**60).to_bytes(8, "little")
DEEP = 30_000
HOSTILE_CONTENT = st.one_of(
    st.binary(max_size=64).map(lambda b: b"\xff\xfe" + b),  # never UTF-8, never an image
    st.sampled_from(
        [
            b"",
            b"x = " + b"[" * DEEP,
            b"x = " + b"{a = " * DEEP,
            b"a" + b".a" * DEEP + b" = 1",
            b"[a" + b".a" * DEEP + b"]",
            b"\x80\x04\x8e" + BIG,  # a pickle declaring 2**60 bytes
            b"\x80\x04\x8d" + BIG,
            b"\x80\x04]\x88\x8c\x07_codecss\x91tR.",  # was an IndexError
            b"\x80\x04N]a.",  # was an AttributeError
            b"\x80\x02cposix\nsystem\n.",
            "10\t300\nAaron_Peirsol 1 ²\n".encode(),
            "left,right,same\n²,٣,1\n".encode(),
            _png_claiming(100_000, 100_000),
            _png_claiming(0, 0),
            b"\xff\xd8\xff\xe0" + b"\x00" * 20,  # a JPEG that stops at its header
            b"GIF89a" + b"\xff" * 10,
        ]
    ),
    st.text(max_size=40).map(lambda t: (t + "\n= = =\n").encode("utf-8", "surrogatepass")),
)
SUFFIXES = st.sampled_from([".jpg", ".png", ".toml", ".csv", ".txt", ".bin", "", ".db", " ²\n.jpg"])


def hostile_file(slot: str) -> st.SearchStrategy[FileSpec]:
    """A file that the slot's loader must refuse (for ``slot`` see HOSTILE_FILE_SLOTS)."""
    kinds = ["fifo", "dir", "loop", "dangling", "missing", "under-file", "device", "content"]
    if slot == "not-a-new-folder":
        kinds = ["fifo", "loop", "under-file", "content"]  # a new or empty folder is fine
    if slot == "database":
        kinds = ["fifo", "dir", "loop", "missing", "content"]
    # an empty TOML file is a valid (default) config: never empty here
    content = HOSTILE_CONTENT.filter(lambda b: b != b"") if slot == "toml" else HOSTILE_CONTENT
    suffix = st.sampled_from([".csv", ".txt", ".bin"]) if slot == "dataset" else SUFFIXES
    return st.builds(FileSpec, st.sampled_from(kinds), suffix, content)


def any_file() -> st.SearchStrategy[FileSpec]:
    return st.builds(
        FileSpec,
        st.sampled_from(["fifo", "dir", "loop", "missing", "device", "content"]),
        SUFFIXES,
        HOSTILE_CONTENT,
    )


def materialise(spec: FileSpec, folder: Path, number: int) -> str:
    path = folder / f"f{number}{spec.suffix}"
    if spec.kind == "fifo":
        os.mkfifo(path)
    elif spec.kind == "dir":
        path.mkdir()
    elif spec.kind == "loop":
        path.symlink_to(path.name)
    elif spec.kind == "dangling":
        path.symlink_to(folder / "nowhere")
    elif spec.kind == "under-file":
        path.write_bytes(b"x")
        path = path / "inside"
    elif spec.kind == "device":
        return "/dev/zero" if number % 2 else "/dev/null"
    elif spec.kind == "content":
        path.write_bytes(spec.content)
    return str(path)


# -- invocations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    path: str
    parser: argparse.ArgumentParser


def _commands() -> list[Command]:
    def walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> Iterator[Command]:
        for action in parser._actions:  # noqa: SLF001 - argparse has no public walk
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                for name, sub in action.choices.items():
                    yield from walk(sub, (*words, name))
                return
        yield Command(" ".join(words), parser)

    return list(walk(build_parser(), ()))


COMMANDS = _commands()


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions  # noqa: SLF001
        if not isinstance(a, argparse._HelpAction)  # noqa: SLF001
    ]


def _checked_type(action: argparse.Action) -> str | None:
    """'number', 'file', 'folder' or 'output' for the types of gate.cli.args, else None."""
    kind = getattr(action.type, "__module__", "")
    name = getattr(action.type, "__name__", "")
    if kind != "gate.cli.args":
        return None
    if name == "output_file":
        return "output"
    if name == "report_folder":
        return "report"
    if name == "sample_or_path":
        return "photo"
    if name in ("users_file", "audit_log"):
        return "new-or-file"  # a missing path is a new file
    read_now = ("regular_file", "scenario_file", "pem_certificate", "pem_private_key",
                "console_public_keys")  # fmt: skip
    return "file" if name in read_now else {"directory": "folder"}.get(name, "number")


@dataclass(frozen=True)
class Token:
    text: str | None = None
    file: FileSpec | None = None


@st.composite
def _value(draw: st.DrawFn, command: Command, action: argparse.Action, bad: bool) -> Token:
    """A value for ``action``: surely refused when ``bad``, anything plausible otherwise."""
    slot = HOSTILE_FILE_SLOTS.get((command.path, action.dest))
    checked = _checked_type(action)
    if bad:
        if action.choices is not None:
            return Token(draw(ARGV_TEXT.filter(lambda t: t not in action.choices)))  # type: ignore[operator]
        if checked == "number":
            return Token(draw(st.sampled_from(BAD_NUMBERS)))
        if checked in ("file", "folder"):
            kinds = ["fifo", "missing", "loop"] + (["content"] if checked == "folder" else ["dir"])
            return Token(file=draw(st.builds(FileSpec, st.sampled_from(kinds), SUFFIXES)))
        if checked == "new-or-file":
            return Token(file=draw(st.builds(FileSpec, st.sampled_from(["fifo", "loop", "dir"]))))
        if checked == "output":
            return Token(file=FileSpec("dir"))
        if checked == "report":
            return Token(file=FileSpec("under-file"))
        if checked == "photo":
            return Token(draw(st.sampled_from(["sample:t1.jpg#²", "sample:#1", "sample:x#-1"])))
        assert slot is not None, (command.path, action.dest)
        return Token(file=draw(hostile_file(slot)))
    if action.choices is not None and draw(st.booleans()):
        return Token(draw(st.sampled_from(sorted(action.choices))))  # type: ignore[arg-type]
    if checked == "number" or action.type in (int, float):
        return Token(draw(ANY_NUMBER))
    if (command.path, action.dest) in NO_FIFO:
        return Token(draw(ARGV_TEXT))
    return draw(st.one_of(ARGV_TEXT.map(Token), any_file().map(lambda f: Token(file=f))))


def _surely_bad(command: Command) -> list[tuple[str, argparse.Action | None]]:
    """The ways ``command`` is sure to refuse: (how, action). Values of checked types and
    choices are refused by argparse; the files of HOSTILE_FILE_SLOTS by their loaders, which
    run first (for ``run`` and ``simulate`` too: loading the config is parsing it)."""
    ways: list[tuple[str, argparse.Action | None]] = [("unknown-option", None)]
    for action in _arguments(command.parser):
        if action.required:
            ways.append(("omit", action))
        if action.nargs == 0:
            continue
        checked = action.choices is not None or _checked_type(action) is not None
        if checked or (command.path, action.dest) in HOSTILE_FILE_SLOTS:
            ways.append(("value", action))
    return ways


@st.composite
def invocations(draw: st.DrawFn, family: str) -> tuple[str, list[Token]]:
    heads = FAMILIES[family]
    command = draw(st.sampled_from([c for c in COMMANDS if c.path.split()[0] in heads]))
    how, wrong = draw(st.sampled_from(_surely_bad(command)))
    positionals: list[Token] = []
    options: list[list[Token]] = []
    for action in _arguments(command.parser):
        if how == "omit" and action is wrong:
            continue
        is_wrong = how == "value" and action is wrong
        optional = bool(action.option_strings) or action.nargs in ("?", "*")
        if optional and not (action.required or is_wrong or draw(st.integers(0, 3)) == 0):
            continue
        if action.nargs == 0:
            options.append([Token(action.option_strings[0])])
            continue
        value = draw(_value(command, action, bad=is_wrong))
        if action.option_strings:
            options.append([Token(draw(st.sampled_from(action.option_strings))), value])
        else:
            positionals.append(value)
    if how == "unknown-option":
        options.append([Token(draw(st.sampled_from(["--no-such-option", "--por", "-Z"])))])
    order = draw(st.permutations(range(len(options))))
    tokens = [Token(w) for w in command.path.split()] + positionals
    tokens += [token for i in order for token in options[i]]
    return command.path, tokens


# -- stubs: nothing starts, no model loads -------------------------------------------------------


class FakeEngine:
    """Finds no face anywhere; enough of FaceEngine for verify, embed and demo-verify."""

    pack_id = "fuzz"
    distance_name = "cosine"

    def threshold(self, fmr: str = "1e-3") -> float:
        if fmr not in ("1e-2", "1e-3", "1e-4"):
            raise ModelError(f"pack fuzz has no threshold for FMR {fmr!r}")
        return 0.5

    def embed_one(self, image: Any, **options: Any) -> Any:
        raise NoFaceError("no face found (fuzz engine)")

    def analyze(self, image: Any, **options: Any) -> list[Any]:
        return []


# -- the test -----------------------------------------------------------------------------------


@pytest.fixture()
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No packs (EGATE_HOME is empty), every service stubbed, files under tmp_path."""
    monkeypatch.setenv("EGATE_HOME", str(tmp_path / "egate-home"))
    monkeypatch.setenv("EGATE_TURNSTILE", "")
    monkeypatch.chdir(tmp_path)
    stub_services(monkeypatch, FakeEngine())
    return tmp_path


NUMBERS = itertools.count()


def _run(
    sandbox: Path, capsys: pytest.CaptureFixture[str], family: str, made: tuple[str, list[Token]]
) -> None:
    _, tokens = made
    folder = sandbox / f"example-{next(NUMBERS)}"
    folder.mkdir()
    try:
        argv = [
            t.text if t.file is None else materialise(t.file, folder, i)
            for i, t in enumerate(tokens)
        ]
        assert all(a is not None for a in argv)
        code = main([str(a) for a in argv])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    COUNTS[family] += 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code in (1, 2), f"egate {argv!r}: exit {code}, stderr {err!r}"
    assert len(lines) == 1, f"egate {argv!r}: stderr is {len(lines)} lines: {err!r}"
    assert lines[0].startswith("egate: ") and "Traceback" not in err, err


@pytest.mark.timeout(TIMEOUT_S)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bad_invocations_end_in_one_line(
    sandbox: Path, capsys: pytest.CaptureFixture[str], family: str
) -> None:
    @fuzz_settings(100)
    @given(made=invocations(family))
    def check(made: tuple[str, list[Token]]) -> None:
        _run(sandbox, capsys, family, made)

    check()
    assert COUNTS[family] >= min(EXAMPLES, 50)  # the generator did not starve


def test_every_command_belongs_to_a_family() -> None:
    heads = {word for words in FAMILIES.values() for word in words}
    assert {c.path.split()[0] for c in COMMANDS} <= heads, "add the new command to FAMILIES"


def test_invocation_count(capsys: pytest.CaptureFixture[str]) -> None:
    """Reports how many invocations ran (``make fuzz`` must reach 1,000 and more)."""
    total = sum(COUNTS.values())
    text = ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items()))
    with capsys.disabled():  # past pytest's capture, on the terminal
        print(f"\nCLI fuzz: {total} invocations ({text})")
    if len(COUNTS) == len(FAMILIES) and fuzzing():
        assert total >= 1000
