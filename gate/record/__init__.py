"""Recording a lane's transactions (opt-in, personal data) and reading recordings back.

``record_lane(lane, RecordSettings(folder, days))`` records each transaction: the camera
frames with their timestamps, the MRZ lines, the chip's data groups as read, the turnstile
events and the outcome (``docs/recording.md``). ``load_recording(folder)`` reads a recording
back for a replay (``gate.simulate.replay``), refusing anything else with one line.
"""

from gate.record.folder import FORMAT_VERSION
from gate.record.reader import (
    RecordedDocument,
    RecordedFrame,
    RecordedTransaction,
    Recording,
    load_recording,
)
from gate.record.taps import RecordingCamera, RecordingChipReader, attach, record_lane
from gate.record.writer import Recorder, RecordSettings, check_folder

__all__ = [
    "FORMAT_VERSION",
    "RecordSettings",
    "RecordedDocument",
    "RecordedFrame",
    "RecordedTransaction",
    "Recorder",
    "Recording",
    "RecordingCamera",
    "RecordingChipReader",
    "attach",
    "check_folder",
    "load_recording",
    "record_lane",
]
