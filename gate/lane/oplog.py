"""What the operator of a kiosk lane reads in its log (``egate run``).

- At start-up, one INFO line per part of the lane: the devices, the face pack, the trust
  store and the audit log (``log_startup``).
- One INFO line per transaction: outcome, reason, times per stage. The lane's texts carry no
  MRZ data and no document number, and nothing else is added here.
- Alarms and fail-safe moves at WARNING; a device error once per change of what it says
  (the idle lane asks a dead turnstile twice a second: one line, not a flood), and once
  more when the lane serves a traveller again.
- ``JsonLogFormatter``: one JSON object per line for journald and log collectors.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from gate.config import GateConfig
from gate.lane.events import GateEvent

log = logging.getLogger("gate.lane")

_STAGES = ("document", "enrol", "capture", "verify", "passage")


def log_startup(config: GateConfig, pack_id: str | None = None) -> None:
    """The lane's parts, one INFO line each, before it serves."""
    name = config.lane.name
    log.info("lane %s: turnstile %s", name, config.turnstile.address)
    log.info("lane %s: camera %s", name, config.camera.address)
    log.info(
        "lane %s: chip reader %s (card wait %.1f s), MRZ from %s",
        name,
        config.reader.address,
        config.reader.card_wait_s,
        config.reader.mrz_source,
    )
    log.info("lane %s: face pack %s (target FMR %s)", name, pack_id or config.face.pack,
             config.face.target_fmr)  # fmt: skip
    log.info("lane %s: trust store %s", name, config.reader.trust_store)
    log.info("lane %s: audit log %s", name, config.audit.path)


class OperatorLog:
    """The kiosk's own observer (``log_event``): what an operator must see in the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: dict[str, str] = {}  # per source: the error text last logged

    def __call__(self, event: GateEvent) -> None:
        if event.kind == "transaction" and event.detail == "finished":
            transaction = event.data.get("transaction")
            if transaction is not None:
                log.info("%s", transaction_line(transaction))
                with self._lock:
                    self._errors.clear()  # a traveller served: a new error is news again
        elif event.kind in ("alarm", "fail_safe"):
            log.warning("%s %s %s", event.kind, _short(event.transaction_id), event.detail)
        elif event.kind == "error":
            source = event.detail.split(":", 1)[0]
            with self._lock:
                if self._errors.get(source) == event.detail:
                    return
                self._errors[source] = event.detail
            log.warning("error %s %s", _short(event.transaction_id), event.detail)
        elif event.kind == "document" and event.detail == "unreadable":
            log.warning("document %s unreadable: %s", _short(event.transaction_id),
                        event.data.get("problem", ""))  # fmt: skip


def transaction_line(transaction: Any) -> str:
    """``transaction 1a2b3c4d ACCEPT in 1725 ms (document 310, capture 812, ...)``."""
    stages = ", ".join(
        f"{stage} {transaction.stage_ms[stage]:.0f}"
        for stage in _STAGES
        if stage in transaction.stage_ms
    )
    reason = f": {transaction.detail}" if transaction.detail else ""
    return (
        f"transaction {_short(transaction.transaction_id)} {transaction.decision.value}"
        f"{reason}; {transaction.total_ms:.0f} ms" + (f" ({stages} ms)" if stages else "")
    )


def _short(transaction_id: str | None) -> str:
    return transaction_id[:8] if transaction_id else "-"


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
