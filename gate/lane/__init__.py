"""The lane: the gate's state machine, its doors, its typed ports and ``build_lane``.

The public surface is what this module exports; the submodules are the lane's own business.
"""

from gate.lane.build import build_lane, log_event, serve
from gate.lane.events import GateEvent, Observer
from gate.lane.machine import Lane
from gate.lane.ports import AuditSink, Biometrics, ChipReader, DocumentSource

__all__ = [
    "AuditSink",
    "Biometrics",
    "ChipReader",
    "DocumentSource",
    "GateEvent",
    "Lane",
    "Observer",
    "build_lane",
    "log_event",
    "serve",
]
