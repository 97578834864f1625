"""A document as the chip reader reports it, for the decision tests: ICAO's specimen MRZ,
read on a fixed day."""

from __future__ import annotations

import datetime as dt

import numpy as np

from gate.transaction import DocumentRead

TODAY = dt.date(2026, 11, 26)
MRZ = "P<UTOERIKSSON<<ANNA<MARIA\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
# The same specimen as the page scanner prints it: two full 44-character lines.
TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"


def document_read(**changes: object) -> DocumentRead:
    """The specimen's read with ``changes`` (valid PA and AA unless changed)."""
    base: dict[str, object] = {
        "document_number": "L898902C3",
        "expiry_date": "301231",
        "dg1_mrz": MRZ,
        "photo": np.zeros((4, 4, 3), np.uint8),
        "passive_auth": "valid",
        "active_auth": "valid",
    }
    base.update(changes)
    return DocumentRead(**base)  # type: ignore[arg-type]
