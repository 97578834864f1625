"""Where the recorder taps a lane: its camera, its chip reader and its events.

``attach(lane, recorder)`` wraps the lane's camera and chip reader (the lane reads both
afresh for each transaction) and adds the recorder as an observer; the recorder's ``close``
puts the lane back as it was. The state machine itself is not touched.
"""

from __future__ import annotations

from typing import Any

from gate.clock import Clock
from gate.interfaces import Camera, Frame
from gate.lane import ChipReader, Lane
from gate.record.writer import Recorder, RecordSettings
from gate.transaction import DocumentRead, PresentedDocument


class RecordingCamera:
    """The lane's camera; each frame the capture reads is also handed to the recorder."""

    def __init__(self, camera: Camera, recorder: Recorder, clock: Clock) -> None:
        self.camera = camera
        self.recorder = recorder
        self.clock = clock

    def read(self, timeout: float) -> Frame:
        frame = self.camera.read(timeout)
        self.recorder.frame(frame, self.clock.now())
        return frame

    def close(self) -> None:
        self.camera.close()

    def __getattr__(self, name: str) -> Any:  # description, stats: the wrapped camera's
        if name in ("camera", "recorder", "clock"):
            raise AttributeError(name)
        return getattr(self.camera, name)


class RecordingChipReader:
    """The lane's chip reader; each read (or its failure) is also handed to the recorder."""

    def __init__(self, reader: ChipReader, recorder: Recorder) -> None:
        self.reader = reader
        self.recorder = recorder

    def read(self, document: PresentedDocument, wall_time: float) -> DocumentRead:
        try:
            read = self.reader.read(document, wall_time)
        except Exception as exc:
            self.recorder.document(document, None, exc)
            raise
        self.recorder.document(document, read, None)
        return read


def attach(lane: Lane, recorder: Recorder) -> Recorder:
    """Record ``lane``'s transactions with ``recorder`` until it closes."""
    camera, reader = lane.camera, lane.chip_reader
    lane.camera = RecordingCamera(camera, recorder, lane.clock)
    lane.chip_reader = RecordingChipReader(reader, recorder)
    lane.add_observer(recorder.observe)

    def detach() -> None:
        lane.remove_observer(recorder.observe)
        lane.camera, lane.chip_reader = camera, reader

    recorder.on_close(detach)
    return recorder


def record_lane(lane: Lane, settings: RecordSettings) -> Recorder:
    """A recorder for ``settings`` attached to ``lane`` (close it before the lane)."""
    return attach(lane, Recorder(settings))
