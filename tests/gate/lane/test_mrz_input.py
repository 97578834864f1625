"""The kiosk's MRZ source over its life cycle (issue 25): a FIFO serves before any writer and
through writers coming and going, a file is followed as it grows and when it is replaced,
standard input ends, and closing the source returns at once while its reader waits."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gate.errors import ConfigError
from gate.lane.documents import MrzStreamDocuments
from gate.lane.mrz_input import MAX_LINE, Garbled, LineInput
from gate.transaction import PresentedDocument
from tests.gate.documents import TD3

WAIT_S = 10.0  # the most a document may take to come through: a bound, not a pace


def _source(line_input: LineInput) -> MrzStreamDocuments:
    return MrzStreamDocuments(line_input, lambda: object())  # type: ignore[arg-type,return-value]


def _next_document(source: MrzStreamDocuments) -> PresentedDocument:
    """The next document (blank lines between documents come through as None)."""
    for _ in range(5):
        document = source.wait_document(WAIT_S)
        if document is not None:
            return document
    raise AssertionError("no document came through")


def _write_fifo(path: Path, text: str) -> None:
    """One writer: open (blocks until the lane reads), write, close."""
    with path.open("w", encoding="ascii") as writer:
        writer.write(text)


def test_fifo_serves_before_any_writer_and_through_writers_coming_and_going(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "mrz.fifo"
    os.mkfifo(fifo)
    line_input = LineInput(fifo)  # returns without a writer: the lane is in service
    source = _source(line_input)
    try:
        assert source.wait_document(0.05) is None and not source.ended
        for _ in range(3):  # each scan by a writer that then closes the FIFO
            _write_fifo(fifo, TD3 + "\n\n")
            assert _next_document(source).printed_mrz == TD3
            assert not source.ended
    finally:
        source.close()


def test_file_is_followed_as_it_grows_and_reread_when_replaced(tmp_path: Path) -> None:
    scan = tmp_path / "scanner.txt"
    scan.write_text("")
    source = _source(LineInput(scan))
    try:
        with scan.open("a", encoding="ascii") as out:
            out.write(TD3 + "\n\n")
        assert _next_document(source).printed_mrz == TD3
        with scan.open("a", encoding="ascii") as out:
            out.write(TD3 + "\n\n")
        assert _next_document(source).printed_mrz == TD3
        # The scanner software writes a new file and renames it over the old one.
        other = TD3.replace("ERIKSSON<<ANNA<MARIA", "SMITH<<JOHN<<<<<<<<<")
        fresh = tmp_path / "scanner.new"
        fresh.write_text(other + "\n\n")
        os.replace(fresh, scan)
        assert _next_document(source).printed_mrz == other
        assert not source.ended
    finally:
        source.close()


def test_close_returns_while_the_reader_waits_and_releases_the_fifo(tmp_path: Path) -> None:
    """Closing a text stream under a thread blocked in readline blocks on the buffer lock
    (the SIGTERM hang of issue 25); the descriptor and wake-up pipe end the wait instead."""
    fifo = tmp_path / "mrz.fifo"
    os.mkfifo(fifo)
    before = len(os.listdir("/proc/self/fd"))
    source = _source(LineInput(fifo))
    assert source.wait_document(0.05) is None  # the reader thread is waiting on the FIFO
    closer = threading.Thread(target=source.close)
    closer.start()
    closer.join(WAIT_S)
    assert not closer.is_alive()
    assert source.wait_document(WAIT_S) is None and source.ended
    assert len(os.listdir("/proc/self/fd")) == before


def test_stdin_ends_with_its_writer(tmp_path: Path) -> None:
    read, write = os.pipe()
    saved = os.dup(0)
    os.dup2(read, 0)
    os.close(read)
    try:
        line_input = LineInput(None)
        os.write(write, (TD3 + "\n").encode())
        os.close(write)
        assert line_input.next_line() == TD3.splitlines()[0]
        assert line_input.next_line() == TD3.splitlines()[1]
        assert line_input.next_line() is None
        line_input.release()
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def test_overlong_and_non_ascii_lines_are_garbled_once(tmp_path: Path) -> None:
    scan = tmp_path / "scanner.txt"
    scan.write_bytes(b"Z" * (3 * MAX_LINE) + b"\nP<UTO\xc3\xa9\nL898\n")
    line_input = LineInput(scan)
    try:
        first = line_input.next_line()
        assert isinstance(first, Garbled) and str(MAX_LINE) in first.why
        second = line_input.next_line()
        assert isinstance(second, str) and "\ufffd" in second
        assert line_input.next_line() == "L898"
    finally:
        line_input.close()
        line_input.release()


def test_a_missing_source_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mrz_source: cannot open"):
        LineInput(tmp_path / "nowhere.fifo")
