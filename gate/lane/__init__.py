"""The lane: the gate's state machine, its doors, its typed ports and ``build_lane``.

The public surface is what this module exports; the submodules are the lane's own business.
Code outside ``gate.lane`` imports from here only (``tests/test_architecture.py`` checks it).
"""

from gate.lane.actions import ACTION_KINDS, OFFICER_NAME, ActionKind, OfficerAction
from gate.lane.adapters import AuditLogSink, EngineBiometrics, PassportChipReader
from gate.lane.build import build_lane, lane_camera, log_event, serve
from gate.lane.events import GateEvent, Observer
from gate.lane.machine import Lane
from gate.lane.ports import AuditSink, Biometrics, ChipReader, DocumentSource
from gate.lane.resilient import ReopeningStats

__all__ = [
    "ACTION_KINDS",
    "OFFICER_NAME",
    "ActionKind",
    "AuditLogSink",
    "AuditSink",
    "Biometrics",
    "ChipReader",
    "DocumentSource",
    "EngineBiometrics",
    "GateEvent",
    "Lane",
    "Observer",
    "OfficerAction",
    "PassportChipReader",
    "ReopeningStats",
    "build_lane",
    "lane_camera",
    "log_event",
    "serve",
]
