"""gate.cli.args: the argparse ``type=`` functions every command uses for its numbers and
paths (the CLI-level reproductions are in test_cli_args.py)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import pytest

from gate.cli import args as argtypes


def test_since_takes_finite_unix_times_and_iso_dates() -> None:
    assert argtypes.since("1700000000") == 1_700_000_000.0
    assert argtypes.since("2023-11-14T22:13:20") == 1_700_000_000.0
    for bad in ("nan", "inf", "-inf", "1e300", "-5", "yesterday", "²"):
        with pytest.raises(argparse.ArgumentTypeError):
            argtypes.since(bad)


def test_number_types_accept_what_they_should() -> None:
    assert argtypes.listen_port("0") == 0 and argtypes.port("65535") == 65535
    assert argtypes.seed(" 42 ") == 42 and argtypes.seed(str(2**32 - 1)) == 2**32 - 1
    assert argtypes.timeout("0.5") == 0.5 and argtypes.duration("0") == 0.0
    assert argtypes.threads("0") == 0 and argtypes.min_face("0") == 0
    assert math.isclose(argtypes.fps("15"), 15.0)
    assert argtypes.impostors("all") == "all" and argtypes.impostors("100") == "100"
    assert argtypes.sample_or_path("sample:t1.jpg#2") == "sample:t1.jpg#2"
    for parse, bad in (
        (argtypes.port, "0"),
        (argtypes.seed, str(2**32)),
        (argtypes.timeout, "86401"),
        (argtypes.fps, "１５"),  # full-width digits: float() takes them, we do not
        (argtypes.impostors, "0"),
        (argtypes.sample_or_path, "sample:t1.jpg#²"),
        (argtypes.count, "9" * 50),
    ):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


def test_path_types_refuse_fifos_and_directories(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(argparse.ArgumentTypeError, match="FIFO"):
        argtypes.regular_file(str(fifo))
    with pytest.raises(argparse.ArgumentTypeError, match="directory"):
        argtypes.regular_file(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match="not a directory"):
        argtypes.directory(str(fifo))
    with pytest.raises(argparse.ArgumentTypeError, match="is a directory"):
        argtypes.output_file(str(tmp_path))
    assert argtypes.output_file(str(tmp_path / "new.json")) == str(tmp_path / "new.json")
    # refused before a long run, not after it: the folder must already be there
    with pytest.raises(argparse.ArgumentTypeError, match="folder .*missing.* does not exist"):
        argtypes.output_file(str(tmp_path / "missing" / "out.json"))
