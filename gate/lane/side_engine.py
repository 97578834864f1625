"""A second face engine for a kiosk lane in real time (``egate run``).

The capture holds the lane's face engine from its first frame to its last embedding
(``gate.lane.adapters.EngineBiometrics``: the engine is not thread-safe, and a capture
must not be paused mid-window). With only that engine, the traveller waits after the
capture for the chip photo's enrolment and for the best shots' embeddings. ``SideEngine``
is the same pack opened a second time, on one thread of its own (the capture keeps the
other cores): the lane's thread enrols the chip photo on it as soon as the chip is read,
and its worker thread embeds each best shot while the capture window is still open
(``gate.capture.pipeline``'s ``embed_ahead``). Same pack, same models, same numbers:
nothing is decided on less.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from gate.errors import FaceError
from gate.types import Face, FloatArray, ImageBGR

if TYPE_CHECKING:
    from models.engine import FaceEngine


class SideEngine:
    """One engine used by one thread at a time (``lock``): the enrolment or the worker.
    The enrolment goes first: the decision waits for it, while a shot embedded ahead may
    still be dropped."""

    def __init__(self, engine: FaceEngine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self._turn = threading.Condition()
        self._enrolling = 0  # enrolments waiting for the engine or on it
        self._worker: ThreadPoolExecutor | None = None

    def enrol(self, photo: ImageBGR, min_face: int) -> FloatArray:
        """The largest face of the chip photo, embedded (in the caller's thread)."""
        with self._turn:
            self._enrolling += 1
            self._turn.notify_all()
        try:
            with self.lock:
                face = self.engine.embed_one(photo, policy="largest", min_face=min_face)
        finally:
            with self._turn:
                self._enrolling -= 1
                self._turn.notify_all()
        if face.embedding is None:
            raise FaceError("the engine gave no embedding for the chip photo")
        return np.asarray(face.embedding, dtype=np.float32)

    def embed_ahead(self, image: ImageBGR, face: Face) -> Future[FloatArray]:
        """``face`` of ``image`` embedded by the worker thread (one job at a time, in order).
        The job starts (``running``) only once it has the engine: until then, waiting for
        its turn too, ``cancel`` drops it."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="side-engine")
        result: Future[FloatArray] = Future()
        self._worker.submit(self._embed, image, face, result)
        return result

    def _embed(self, image: ImageBGR, face: Face, result: Future[FloatArray]) -> None:
        with self._turn:  # after the enrolment asked for (it is the one the lane waits for)
            self._turn.wait_for(lambda: self._enrolling == 0 or result.cancelled())
        with self.lock:
            if not result.set_running_or_notify_cancel():
                return  # cancelled while it waited: the capture embeds it, or no longer needs it
            try:
                embedding = self.engine.embed(image, [face])[0]
            except BaseException as exc:  # handed to whoever takes the result
                result.set_exception(exc)
            else:
                result.set_result(np.asarray(embedding, dtype=np.float32))

    def close(self, wait: bool = False) -> None:
        """Drop the jobs not started; the worker ends after the one it is on (a job
        dropped here leaves its result pending: the capture that wanted it has ended)."""
        if self._worker is not None:
            self._worker.shutdown(wait=wait, cancel_futures=True)
            self._worker = None
