"""The simulator's results: one row per traveller, a text table and a JSON summary.

The summary is written atomically (a temporary file in the same folder, flushed to disk,
then renamed over the target): a full disk or a crash leaves the previous summary or none,
never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.outcome import Decision, Transaction


@dataclass(frozen=True)
class TravellerResult:
    index: int
    name: str
    kind: str
    expected: Decision
    transaction: Transaction | None
    error: str = ""  # the simulator could not put this traveller through (setup failed)
    timings_ms: Mapping[str, float] = field(default_factory=dict)  # simulator-side timings

    @property
    def actual(self) -> Decision | None:
        return self.transaction.decision if self.transaction else None

    @property
    def ok(self) -> bool:
        return self.actual is self.expected

    def to_json(self) -> dict[str, Any]:
        tx = self.transaction
        return {
            "index": self.index,
            "name": self.name,
            "kind": self.kind,
            "expected": self.expected.value,
            "actual": self.actual.value if self.actual else None,
            "ok": self.ok,
            "score": tx.score if tx else None,
            "threshold": tx.threshold if tx else None,
            "liveness": tx.liveness if tx else None,
            # the verdict, each cue and the challenge asked, if any (gate.outcome)
            "liveness_evidence": (
                tx.liveness_evidence.as_dict() if tx and tx.liveness_evidence else None
            ),
            "passive_auth": tx.passive_auth if tx else None,
            "active_auth": tx.active_auth if tx else None,
            "chip_auth": tx.chip_auth if tx else None,
            "detail": tx.detail if tx else self.error,
            "fail_safe": tx.fail_safe if tx else None,
            "frames_seen": tx.frames_seen if tx else 0,
            "stage_ms": dict(tx.stage_ms) if tx else {},
            "simulator_ms": dict(self.timings_ms),
        }


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(results: Sequence[TravellerResult]) -> str:
    """A fixed-width table of outcomes against expectations."""
    header = ("#", "traveller", "kind", "expected", "actual", "score", "live", "ms", "")
    rows = [header]
    for r in results:
        tx = r.transaction
        rows.append(
            (
                str(r.index + 1),
                r.name,
                r.kind,
                r.expected.value,
                r.actual.value if r.actual else "ERROR",
                _fmt(tx.score if tx else None),
                _fmt(tx.liveness if tx else None, 2),
                _fmt(tx.stage_ms.get("total") if tx else None, 0),
                "ok" if r.ok else "DIFFERS",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    passed = sum(r.ok for r in results)
    lines.append(f"{passed}/{len(results)} outcomes as expected")
    waits = sorted(
        r.transaction.stage_ms["document_to_exit_command"]
        for r in results
        if r.kind == "genuine"
        and r.transaction is not None
        and "document_to_exit_command" in r.transaction.stage_ms
    )
    if waits:
        p50 = statistics.median(waits) / 1000.0
        lines.append(
            f"genuine travellers, document to exit command (n={len(waits)}): p50 {p50:.2f} s"
            f", max {waits[-1] / 1000.0:.2f} s (gate clock)"
        )
    lines.extend(document_stage_lines(results))
    for r in results:
        if not r.ok:
            why = r.transaction.detail if r.transaction else r.error
            lines.append(f"  #{r.index + 1} {r.name}: {why}")
    return "\n".join(line.rstrip() for line in lines)


# Kinds that present a genuine document (the chip and its page as issued).
FORGED_DOCUMENT_KINDS = frozenset(
    {"expired", "tampered", "clone", "revoked", "substituted_photo", "mrz_mismatch"}
)


def document_stage_lines(results: Sequence[TravellerResult]) -> list[str]:
    """The document stage of the travellers with a genuine document whose page was read:
    p50 of the whole read (page OCR + chip), of the OCR alone and of the portrait check."""
    stages: dict[str, list[float]] = {"document": [], "page_ocr": [], "page_portrait": []}
    for r in results:
        tx = r.transaction
        if tx is None or r.kind in FORGED_DOCUMENT_KINDS or "page_ocr" not in tx.stage_ms:
            continue
        for stage, values in stages.items():
            if stage in tx.stage_ms:
                values.append(tx.stage_ms[stage])
    if not stages["document"]:
        return []
    labels = {"document": "page OCR + chip", "page_ocr": "OCR", "page_portrait": "portrait"}
    parts = ", ".join(
        f"{label} p50 {statistics.median(stages[key]):.0f} ms"
        for key, label in labels.items()
        if stages[key]
    )
    return [f"genuine documents, document stage (n={len(stages['document'])}): {parts} "
            f"(max {max(stages['document']):.0f} ms, gate clock)"]  # fmt: skip


def summary(
    scenario_name: str, results: Sequence[TravellerResult], extra: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "scenario": scenario_name,
        "travellers": [r.to_json() for r in results],
        "passed": all(r.ok for r in results),
        "count": len(results),
        "as_expected": sum(r.ok for r in results),
        "audit_failed": sum(r.actual is Decision.AUDIT_FAILED for r in results),
        **dict(extra),
    }


def _mode_for(path: Path) -> int:
    """The summary keeps the mode of the file it replaces; a new one is 0644."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: some file systems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically; ``InputError`` when it cannot be written."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    folder = path.parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write the JSON summary {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, _mode_for(path))  # mkstemp's 0600 is for the half-written file
        os.replace(temporary, path)
        _sync_folder(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise InputError(f"cannot write the JSON summary {path}: {exc.strerror}") from exc
