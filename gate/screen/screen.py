"""The traveller's screen as the lane's observer: it keeps the current ``ScreenState``,
tells every open page what to show (``listen``), and turns the lane's live frames into the
camera view's mirror.

The observer runs in the lane's thread and only updates the state and hands messages on;
frames are encoded to JPEG on the screen's own thread, newest first (an old frame is
dropped, never queued), held in memory only and sent only while the camera view (or its
challenge) is shown. A frame carries nothing but the picture, whether the face guide is
met and the hint: never a score, the chip photo, a name or a number.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gate.lane import ChipReader, GateEvent
from gate.screen import messages as m
from gate.screen.languages import check_language, language_for, translate
from gate.screen.page import message
from gate.screen.views import ScreenState, advance, hint_for
from gate.transaction import DocumentRead, PresentedDocument

log = logging.getLogger("gate.screen")
Listener = Callable[[str, dict[str, Any]], None]  # (event name, message)
MIRROR_WIDTH = 480  # pixels: the mirror needs no more, and JPEGs stay small
JPEG_QUALITY = 70
MIRRORED = ("camera", "challenge")  # the views that show the live mirror


class Screen:
    """``Screen()`` is an observer of the lane (``lane.add_observer`` or ``observers=``)."""

    def __init__(self, default_language: str = "en", clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._state = ScreenState(default=check_language(default_language))
        self._seq = 0
        self._current = message(self._state, 0, clock())
        self._listeners: list[Listener] = []
        self._frame: tuple[Any, Any, Any, str | None] | None = None  # the newest, not yet sent
        self._wake = threading.Condition(self._lock)
        self._stopped = False
        self._encoder = threading.Thread(target=self._encode_frames, name="screen", daemon=True)
        self._encoder.start()

    # -- what the lane tells (the lane's thread) -----------------------------------------------
    def __call__(self, event: GateEvent) -> None:
        if event.kind == "preview":
            with self._wake:
                data = event.data
                self._frame = (data.get("image"), data.get("face_box"), data.get("quality"),
                               event.transaction_id)  # fmt: skip
                self._wake.notify()
            return
        sent = self._clock()
        with self._lock:
            self._change(advance(self._state, event), sent)

    def note_nationality(self, nationality: str) -> None:
        """DG1's nationality, read by the lane's chip reader: the traveller's language."""
        sent = self._clock()
        with self._lock:
            self._change(replace(self._state, nationality_language=language_for(nationality,
                                 self._state.default)), sent)  # fmt: skip

    def choose(self, code: str) -> None:
        """The traveller chose a language on the screen (until the next traveller). The
        language the screen speaks by itself (DG1's, or the default) is no choice: DG1's
        nationality still applies once the chip is read."""
        sent = self._clock()
        with self._lock:
            own = self._state.nationality_language or self._state.default
            chosen = None if check_language(code) == own else code
            self._change(replace(self._state, chosen=chosen), sent)

    def set_in_service(self, in_service: bool) -> None:
        """The lane's service state when the screen is attached to it."""
        with self._lock:
            self._change(replace(self._state, officer_closed=not in_service), self._clock())

    # -- what the pages read (any thread) ------------------------------------------------------
    @property
    def state(self) -> ScreenState:
        return self._state

    def current(self) -> dict[str, Any]:
        with self._lock:
            return self._current

    def listen(self, listener: Listener) -> dict[str, Any]:
        """Call ``listener`` with every message from now on; returns the current one."""
        with self._lock:
            self._listeners.append(listener)
            return self._current

    def unlisten(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._encoder.join(2.0)

    # -- inside ---------------------------------------------------------------------------
    def _change(self, new: ScreenState, sent: float) -> None:
        """With the lock held: keep ``new``; tell the pages when what they show changed."""
        old, self._state = self._state, new
        if (old.shown, old.language, old.challenge) == (new.shown, new.language, new.challenge):
            return
        self._seq += 1
        self._current = message(new, self._seq, sent)
        self._send("view", self._current)

    def _send(self, name: str, payload: dict[str, Any]) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(name, payload)
            except Exception:  # a page's trouble must never reach the lane
                log.exception("screen listener failed")

    def _encode_frames(self) -> None:
        while True:
            with self._wake:
                while self._frame is None and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                image, box, quality, tid = self._frame or (None, None, None, None)
                self._frame, state = None, self._state
            if state.shown not in MIRRORED or tid != state.tid or image is None:
                continue  # a late frame of a view no longer shown
            try:
                payload = _frame_message(image, box, quality, state.language)
            except Exception:
                log.exception("screen: a live frame could not be shown")
                continue
            with self._lock:
                if self._state.shown in MIRRORED and self._state.tid == tid:
                    self._send("frame", payload)


def _frame_message(image: Any, box: Any, quality: Any, lang: str) -> dict[str, Any]:
    """The mirror's picture (JPEG, in memory), whether the guide is met, and the hint."""
    import cv2

    height, width = image.shape[:2]
    hint = hint_for(_box(box), _number(quality), width, height)
    if width > MIRROR_WIDTH:
        size = (MIRROR_WIDTH, round(height * MIRROR_WIDTH / width))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    picture = "data:image/jpeg;base64," + base64.b64encode(bytes(jpeg)).decode("ascii")
    return {"image": picture, "ok": hint == "hold", "hint": translate(lang, m.HINTS[hint])}


def _box(value: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        return None
    left, top, right, bottom = (float(v) for v in value)
    return left, top, right, bottom


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


class NationalityTap:
    """The lane's chip reader, unchanged, telling the screen DG1's nationality as soon as
    the chip has been read (so the camera view is already in the traveller's language)."""

    def __init__(self, reader: ChipReader, tell: Callable[[str], None]) -> None:
        self.reader = reader
        self._tell = tell

    def read(self, document: PresentedDocument, wall_time: float) -> DocumentRead:
        read = self.reader.read(document, wall_time)
        nationality = nationality_of(read.dg1_mrz)
        if nationality:
            self._tell(nationality)
        return read

    def __getattr__(self, name: str) -> Any:  # the reader's other attributes, as they are
        return getattr(self.reader, name)


def nationality_of(dg1_mrz: str) -> str:
    """The nationality field of DG1's MRZ (TD3, TD2 or TD1; a TD3 that does not parse is
    read by position), or ``""``."""
    from gate.errors import DocumentError
    from gate.icao.mrz import parse_mrz

    try:
        return parse_mrz(dg1_mrz).nationality
    except (DocumentError, ValueError):  # read by position, as the officer's view does
        lines = dg1_mrz.splitlines()
        if len(lines) == 2 and len(lines[1]) == 44:
            return lines[1][10:13].replace("<", "")
        return ""
