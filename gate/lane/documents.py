"""Where a kiosk's documents come from: the printed MRZ as text lines from the page scanner
(``reader.mrz_source``: ``stdin`` or a file/FIFO the scanner software writes to, read by
``gate.lane.mrz_input``); the chip is then read through the reader connector chosen by
``reader.address``."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import TextIO

from gate.errors import DocumentError
from gate.icao.mrz import parse_mrz
from gate.interfaces import ChipTransport
from gate.lane.bad_mrz import mrz_problem
from gate.lane.mrz_input import MAX_LINE, Garbled, LineInput
from gate.transaction import PresentedDocument

log = logging.getLogger(__name__)

MAX_FAILED_READS = 100  # a stream that fails this often in a row is given up, not spun on
UNREADABLE_MRZ = "\ufffd"  # the printed MRZ of a document whose scan was garbled


_Garbled = Garbled


class MrzStreamDocuments:
    """Documents announced by their printed MRZ on a text stream, one line per MRZ line.

    Lines are read in a background thread (a blocking ``readline`` must not stall the
    lane); a document is complete when the last 2 (TD3) or 3 (TD1) lines parse as an MRZ.

    A line the scanner garbled (a byte that is not ASCII, an overlong line) must neither
    kill the reader thread (the lane would wait for ever) nor pass silently: the document
    being scanned is presented as unreadable, so the lane refers the traveller to an
    officer, and the lane goes on serving. Further garbled lines of that same document
    (until a blank line or a good MRZ) are dropped.
    """

    def __init__(self, stream: TextIO | LineInput, transport: Callable[[], ChipTransport]) -> None:
        self._input = stream if isinstance(stream, LineInput) else None
        self._transport = transport
        self._lines: queue.Queue[str | _Garbled | None] = queue.Queue()
        self._pending: list[str] = []
        self._spoiled = False  # a garbled line was presented; its siblings are dropped
        self._ended = False
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    @property
    def ended(self) -> bool:
        return self._ended

    def close(self) -> None:
        """Stop reading a ``LineInput`` (at once, even while no line comes)."""
        if self._input is not None:
            self._input.close()
            self._thread.join(5.0)
            if not self._thread.is_alive():
                self._input.release()

    def _pump(self, stream: TextIO | LineInput) -> None:
        failures = 0
        read = stream.next_line if isinstance(stream, LineInput) else partial(_read_line, stream)
        try:
            while failures < MAX_FAILED_READS:
                try:
                    line = read()
                except UnicodeDecodeError as exc:  # a strict text stream (stdin)
                    failures += 1
                    self._lines.put(_Garbled(f"bytes that are not text ({exc.reason})"))
                    continue
                failures = 0
                if line is None:
                    break
                self._lines.put(line)
            else:
                log.error("MRZ source: %d unreadable lines in a row; stop reading", failures)
        except (OSError, ValueError) as exc:  # the stream broke or was closed under us
            log.error("MRZ source: reading failed: %s", exc)
        finally:
            self._lines.put(None)  # the lane sees the source end instead of waiting for ever

    def wait_document(self, timeout: float) -> PresentedDocument | None:
        if self._ended:
            return None
        try:
            item = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            self._ended = True  # the scanner's stream closed: no more documents will come
            return None
        if isinstance(item, _Garbled):
            return self._garbled(item)
        line = item.strip()
        if not line.isascii():
            return self._garbled(_Garbled("a character that is not ASCII"))
        if not line:  # the end of a scan: lines left over were not an MRZ
            bad, self._pending = self._pending, []
            spoiled, self._spoiled = self._spoiled, False
            return None if spoiled or not bad else self._bad_scan(bad)
        self._pending = [*self._pending[-2:], line]
        for count in (3, 2):
            if len(self._pending) >= count:
                text = "\n".join(self._pending[-count:])
                try:
                    parse_mrz(text)
                except DocumentError:
                    if _complete(self._pending[-count:]):  # the shape of an MRZ, not valid
                        self._pending.clear()
                        return self._bad_scan(text.splitlines())
                    continue
                self._pending.clear()
                self._spoiled = False
                return PresentedDocument(text, self._transport(), label="document")
        return None

    def _bad_scan(self, lines: list[str]) -> PresentedDocument:
        """A scan that is no valid MRZ: refused on record (the chip reader names the field),
        not dropped in silence."""
        try:
            parse_mrz(lines)
            problem = "not an MRZ"  # pragma: no cover  (only lines that do not parse come)
        except DocumentError as exc:
            problem = mrz_problem(exc)
        log.warning("MRZ source: a scan that is not a valid MRZ (%s); the document is refused",
                    problem)  # fmt: skip
        return PresentedDocument("\n".join(lines), self._transport(), label="unreadable MRZ")

    def _garbled(self, item: _Garbled) -> PresentedDocument | None:
        self._pending.clear()
        if self._spoiled:
            log.debug("MRZ source: another garbled line of the same document dropped")
            return None
        self._spoiled = True
        log.warning("MRZ source: a line with %s; the document is refused", item.why)
        # U+FFFD is what a decoder writes for bytes it cannot read: the chip reader refuses
        # it ("MRZ: line 1 contains '\ufffd'"), so the lane refers the traveller
        # (REFER_DOCUMENT), doors locked, and serves the next one.
        return PresentedDocument(UNREADABLE_MRZ, self._transport(), label="unreadable MRZ")


def _complete(lines: list[str]) -> bool:
    """The shape of a whole MRZ: 2 lines of 44 (TD3) or of 36 (TD2), 3 of 30 (TD1)."""
    lengths = {len(line) for line in lines}
    return len(lengths) == 1 and (len(lines), lengths.pop()) in ((2, 44), (2, 36), (3, 30))


def _read_line(stream: TextIO) -> str | _Garbled | None:
    """The next line (without its end), a ``_Garbled`` for one too long to be an MRZ line
    (the rest of it is read and dropped, in bounded pieces), or None at the end."""
    line = stream.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) <= MAX_LINE or line.endswith("\n"):
        return line.rstrip("\r\n")
    while line and not line.endswith("\n"):
        line = stream.readline(MAX_LINE + 1)
    return _Garbled(f"more than {MAX_LINE} characters")
