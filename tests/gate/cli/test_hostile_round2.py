"""Hostile input, round 2 (issue 23): the console's accounts file and CLI values, pack
manifests with thresholds that cannot decide. Each case was a hang, a traceback or a silent
success before; each is now one line and exit 2."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from gate.cli import main
from gate.console.server import parse_listen
from gate.console.users import Users
from gate.errors import ConfigError, ModelError
from models.manifest import PackManifest


class Hung(Exception):
    pass


@pytest.fixture
def no_hang() -> Iterator[None]:
    """A blocked ``open`` (a FIFO) is interrupted after 20 s and fails the test."""

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise Hung("no answer in 20 s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


# -- the console users file ----------------------------------------------------------------


def test_a_fifo_users_file_is_refused_not_waited_on(tmp_path: Path, no_hang: None) -> None:
    os.mkfifo(tmp_path / "users.json")
    with pytest.raises(ConfigError, match="it is a FIFO"):
        Users.load(tmp_path / "users.json")


@pytest.mark.parametrize(
    "content",
    [
        b'{"users": ' + b"[" * 100_000,
        b'{"users": {"a": {"role": "officer", "hash": 1}}}',
        b'{"users": {"a": {"role": "officer", "hash": "x"}}, "users": {}}',
        b'{"users": [1, 2]}',
        b"\xff\xfe",
        b"[]",
    ],
    ids=["deep", "hash-not-text", "repeated-key", "users-a-list", "not-utf8", "a-list"],
)
def test_a_hostile_users_file_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "users.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="users.json"):
        Users.load(path)


def test_console_user_add_with_a_fifo_users_file_exits_2(
    tmp_path: Path,
    no_hang: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    os.mkfifo(tmp_path / "users.json")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long password\n"))
    argv = ["console", "user", "add", "ana", "--role", "officer"]
    assert main([*argv, "--users", str(tmp_path / "users.json")]) == 2
    assert "FIFO" in _one_line(capsys)


class _Stdin(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize(
    "given", [b"\xff\xfepassword\n", None, b""], ids=["bytes", "closed", "empty"]
)
def test_console_user_add_refuses_unusable_stdin(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    given: bytes | None,
) -> None:
    stdin = _Stdin(io.BytesIO(given or b""), encoding="utf-8")
    if given is None:
        stdin.close()
    monkeypatch.setattr(sys, "stdin", stdin)
    argv = ["console", "user", "add", "ana", "--role", "officer"]
    assert main([*argv, "--users", str(tmp_path / "users.json")]) == 2
    assert "password" in _one_line(capsys)
    assert not (tmp_path / "users.json").exists()


# -- --listen ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["127.0.0.1:²", "127.0.0.1:٤٢٠٠٤", "a" * 64 + ":8080", "..:8080", "a..b:80", ":80",
     "127.0.0.1:", "127.0.0.1:65536", "[::1:80", "[zz]:80", "-a:80"],
)  # fmt: skip
def test_parse_listen_refuses_in_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match="--listen"):
        parse_listen(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:0", ("::1", 0)),
     ("console.example-1.org:443", ("console.example-1.org", 443))],
)  # fmt: skip
def test_parse_listen_takes_real_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


# -- pack manifests ------------------------------------------------------------------------


def _manifest(**changes: object) -> str:
    data: dict[str, object] = {
        "id": "p", "kind": "dlib", "embedding_size": 128, "distance": "euclidean",
        "files": {}, "calibration": "test",
        "input": {"chip_size": 150, "colour_order": "rgb", "normalisation": "x",
                  "alignment": "y"},
        "thresholds": {"1e-3": 0.5},
    }  # fmt: skip
    data.update(changes)
    return json.dumps(data)


def test_a_good_manifest_loads() -> None:
    assert PackManifest.from_json(_manifest(), "m.json").thresholds == {"1e-3": 0.5}


@pytest.mark.parametrize(
    "text",
    [
        _manifest(thresholds={"1e-3": float("nan")}),
        _manifest(thresholds={"1e-3": float("inf")}),
        _manifest(thresholds={}),
        _manifest(created_with=5),
        _manifest(created_with="x"),
        _manifest(created_with={"a": {"b": 1}}),
        '{"id": ' + "[" * 100_000,
        '{"id": ' + "9" * 5000 + "}",
    ],
    ids=["nan", "inf", "none", "created-int", "created-str", "created-nested", "deep", "long"],
)
def test_a_manifest_that_cannot_decide_is_refused(text: str) -> None:
    with pytest.raises(ModelError, match="m.json"):
        PackManifest.from_json(text, "m.json")


# -- CSV -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"left,right,same\n" + b"a" * 200_000 + b",b.png,1\n",
        b'left,right,same\n"a.png,b.png,1\n',
    ],
    ids=["field-over-128k", "open-quote"],
)
def test_a_hostile_pairs_csv_is_one_line(tmp_path: Path, content: bytes) -> None:
    from bench.dataset_formats import load_dataset
    from gate.errors import InputError

    path = tmp_path / "pairs.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"pairs\.csv:2"):
        load_dataset(path)
