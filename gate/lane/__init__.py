"""The lane: the gate's state machine, its doors, its typed ports and ``build_lane``.

The public surface is what this module exports; the submodules are the lane's own business.
Code outside ``gate.lane`` imports from here only (``tests/test_architecture.py`` checks it).
"""

from gate.lane.actions import ACTION_KINDS, OFFICER_NAME, ActionKind, OfficerAction
from gate.lane.adapters import AuditLogSink, EngineBiometrics, PassportChipReader
from gate.lane.build import build_lane, lane_camera, serve
from gate.lane.command_auth import (
    DEFAULT_LIFETIME_S,
    SIGNED_VERSION,
    ConsoleTrust,
    canonical,
    key_id,
    load_public_keys,
)
from gate.lane.events import GateEvent, Observer
from gate.lane.machine import Lane
from gate.lane.officer import ACCEPT_ROLES
from gate.lane.oplog import JsonLogFormatter, OperatorLog, log_startup
from gate.lane.page_check import PAGE_THRESHOLDS, page_distance, upright_views
from gate.lane.page_source import PageCameraDocuments
from gate.lane.ports import AuditSink, Biometrics, ChipReader, DocumentSource
from gate.lane.resilient import ReopeningStats

__all__ = [
    "ACCEPT_ROLES",
    "ACTION_KINDS",
    "DEFAULT_LIFETIME_S",
    "OFFICER_NAME",
    "PAGE_THRESHOLDS",
    "SIGNED_VERSION",
    "ActionKind",
    "AuditLogSink",
    "AuditSink",
    "Biometrics",
    "ChipReader",
    "ConsoleTrust",
    "DocumentSource",
    "EngineBiometrics",
    "GateEvent",
    "JsonLogFormatter",
    "Lane",
    "Observer",
    "OfficerAction",
    "OperatorLog",
    "PageCameraDocuments",
    "PassportChipReader",
    "ReopeningStats",
    "build_lane",
    "canonical",
    "key_id",
    "lane_camera",
    "load_public_keys",
    "log_startup",
    "page_distance",
    "serve",
    "upright_views",
]
