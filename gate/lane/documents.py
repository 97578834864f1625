"""Where a kiosk's documents come from: the printed MRZ as text lines from the page scanner
(``reader.mrz_source``: ``stdin`` or a file/FIFO the scanner software writes to); the chip
is then read through the reader connector chosen by ``reader.address``."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TextIO

from gate.errors import DocumentError
from gate.icao.mrz import parse_mrz
from gate.interfaces import ChipTransport
from gate.transaction import PresentedDocument


class MrzStreamDocuments:
    """Documents announced by their printed MRZ on a text stream, one line per MRZ line.

    Lines are read in a background thread (a blocking ``readline`` must not stall the
    lane); a document is complete when the last 2 (TD3) or 3 (TD1) lines parse as an MRZ.
    """

    def __init__(self, stream: TextIO, transport: Callable[[], ChipTransport]) -> None:
        self._transport = transport
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._pending: list[str] = []
        self._ended = False
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    @property
    def ended(self) -> bool:
        return self._ended

    def _pump(self, stream: TextIO) -> None:
        for line in stream:
            self._lines.put(line.strip())
        self._lines.put(None)

    def wait_document(self, timeout: float) -> PresentedDocument | None:
        if self._ended:
            return None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            self._ended = True  # the scanner's stream closed: no more documents will come
            return None
        if not line:
            self._pending.clear()
            return None
        self._pending = [*self._pending[-2:], line]
        for count in (3, 2):
            if len(self._pending) >= count:
                text = "\n".join(self._pending[-count:])
                try:
                    parse_mrz(text)
                except DocumentError:
                    continue
                self._pending.clear()
                return PresentedDocument(text, self._transport(), label="document")
        return None
