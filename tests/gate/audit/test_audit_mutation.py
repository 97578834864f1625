"""Any single change to any field of any row is detected: property tests over a real chain
written by the real audit store, mutated in its JSON export, its CSV export and its SQLite
database. Value changes and type changes (int -> text, int -> float, text -> BLOB, null,
nested lists and objects, huge numbers, non-ASCII text, NaN and infinities) all end in a
broken chain or a one-line refusal, never in "intact" and never in a traceback."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gate.audit import EXPORT_COLUMNS, AuditLog, AuditRecord, chain_key, verify_chain
from gate.audit.export import parse_export
from gate.audit.secret import load_secret
from gate.errors import AuditError

_PLACE = "\x00@@placeholder@@"


@dataclass(frozen=True)
class Chain:
    db: Path
    key: bytes
    rows: list[dict[str, object]]
    json_text: str
    csv_text: str


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    folder = tmp_path_factory.mktemp("chain")
    db = folder / "audit.db"
    with AuditLog.open(db) as log:
        for n, outcome in enumerate(("ACCEPT", "REFER_CAPTURE", "OFFICER_OPEN")):
            rec = AuditRecord(
                transaction_id=f"tx-{n}",
                started_at=1_700_000_000.0 + n,
                finished_at=1_700_000_004.25 + n,
                outcome=outcome,
                score=None if n == 2 else 0.25 + n / 7,
                threshold=None if n == 2 else 0.5344,
                pack_id=None if n == 2 else "fusion-256",
                document_number=None if n == 2 else f"L{n:08d}",
                passive_auth="valid",
                active_auth=None if n else "valid",
                chip_auth="valid" if n == 1 else None,
                stage_ms={"document": 120.5 + n, "capture": 3.0},
                detail="face verified, café" if n == 0 else "",
            )
            log.record(rec, kind="decision")
            log.record(rec, kind="result")
        rows = list(log.entries())
        json_text, csv_text = log.export("json"), log.export("csv")
    secret = load_secret(db.with_suffix(".salt"))
    assert secret is not None
    yield Chain(db, chain_key(secret), rows, json_text, csv_text)


def _verdict(chain: Chain, raw: bytes) -> str:
    """``intact`` or why not; never raises anything but an assertion."""
    try:
        report = verify_chain(chain.key, parse_export(raw, "export"))
    except AuditError as exc:
        return f"refused: {exc}"
    return "intact" if report.ok else report.describe()


def _same(a: object, b: object) -> bool:
    """Equal as the chain sees values: same JSON text (1, 1.0 and true all differ)."""
    try:
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    except (TypeError, ValueError):
        return False


def test_the_untouched_chain_verifies_in_every_form(chain: Chain) -> None:
    assert _verdict(chain, chain.json_text.encode()) == "intact"
    assert _verdict(chain, chain.csv_text.encode()) == "intact"
    with AuditLog.open_readonly(chain.db) as log:
        assert log.verify().ok


# -- every field of every row, every type (deterministic) ----------------------------------
_TYPE_CHANGES: dict[str, str] = {
    "text": '"5"',
    "float": "5.0",
    "integer": "5",
    "boolean": "true",
    "null": "null",
    "list": "[5]",
    "object": '{"id": 5}',
    "huge integer": "9" * 5000,
    "huge float": "1" * 400 + ".5",
    "non-ASCII text": '"\u0665\u00e9"',
    "NaN": "NaN",
    "infinity": "-Infinity",
    "BLOB as text": '"\\u0000\\u00ff"',
}


@pytest.mark.parametrize("change", sorted(_TYPE_CHANGES))
def test_every_type_change_of_every_field_of_every_row_is_detected(
    chain: Chain, change: str
) -> None:
    raw = _TYPE_CHANGES[change]
    for index, row in enumerate(chain.rows):
        for field in EXPORT_COLUMNS:
            if raw.startswith(("9" * 50, "1" * 50)) or raw in ("NaN", "-Infinity"):
                pass  # not Python values: never equal to a field
            elif _same(json.loads(raw), row[field]):
                continue
            rows = [dict(r) for r in chain.rows]
            rows[index][field] = _PLACE
            text = json.dumps(rows).replace(json.dumps(_PLACE), raw)
            verdict = _verdict(chain, text.encode())
            assert verdict != "intact", (index, field, change)


# -- JSON export: any value, any type ---------------------------------------------------------
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _near(original: object) -> st.SearchStrategy[object]:
    """Values one small step away from ``original``, in its own type and in the next."""
    if isinstance(original, bool) or original is None:
        return _scalars
    if isinstance(original, int):
        return st.sampled_from(
            [original + 1, original - 1, float(original), str(original), -original, 0]
        )
    if isinstance(original, float):
        import math

        return st.sampled_from(
            [
                math.nextafter(original, math.inf),
                math.nextafter(original, -math.inf),
                int(original),
                repr(original),
                -original,
            ]
        )
    assert isinstance(original, str)
    return st.one_of(
        st.sampled_from([original + " ", original[:-1], original.upper(), original.swapcase()]),
        st.builds(
            lambda at, ch: original[:at] + ch + original[at:],
            st.integers(0, len(original)),
            st.characters(),
        ),
    )


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_change_to_any_field_of_a_json_export_is_detected(
    chain: Chain, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain.rows) - 1), label="row")
    field = data.draw(st.sampled_from(EXPORT_COLUMNS), label="field")
    original = chain.rows[index][field]
    value = data.draw(st.one_of(_near(original), _values), label="value")
    assume(not _same(value, original))
    rows = [dict(r) for r in chain.rows]
    rows[index][field] = value
    text = json.dumps(rows, ensure_ascii=data.draw(st.booleans(), label="ascii"))
    assert _verdict(chain, text.encode("utf-8", "surrogatepass")) != "intact"


# -- CSV export: any other text in any cell ---------------------------------------------------
def _csv(cells: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(cells)
    return out.getvalue().encode("utf-8", "surrogatepass")


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_change_to_any_cell_of_a_csv_export_is_detected(
    chain: Chain, data: st.DataObject
) -> None:
    cells = list(csv.reader(io.StringIO(chain.csv_text, newline="")))
    line = data.draw(st.integers(1, len(cells) - 1), label="line")
    column = data.draw(st.integers(0, len(EXPORT_COLUMNS) - 1), label="column")
    original = cells[line][column]
    text = data.draw(
        st.one_of(
            st.text(max_size=20),
            st.sampled_from([original + "0", " " + original, original + "\r", original.upper()]),
            st.builds(
                lambda at, ch: original[:at] + ch + original[at:],
                st.integers(0, len(original)),
                st.characters(),
            ),
            st.integers(-(10**30), 10**30).map(str),
            st.floats().map(repr),
        ),
        label="text",
    )
    assume(text != original)
    cells[line][column] = text
    assert _verdict(chain, _csv(cells)) != "intact"


# -- the database: any value of any SQLite type in any column ---------------------------------
_sqlite_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.integers(min_value=2**63).map(str),  # a huge number, as SQLite can only keep it
    _values.map(json.dumps),  # nested lists and objects, as text
)


def _untyped_copy(source: Path, folder: Path) -> Path:
    """The log copied, its table rebuilt without column types (what an attacker can do), so
    every value keeps the type it is given."""
    db = folder / "audit.db"
    shutil.copy(source, db)
    con = sqlite3.connect(db, isolation_level=None)
    columns = ", ".join(EXPORT_COLUMNS)
    con.executescript(
        f"ALTER TABLE entries RENAME TO old; CREATE TABLE entries ({columns});"
        f"INSERT INTO entries SELECT {columns} FROM old; DROP TABLE old;"
    )
    con.close()
    return db


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_change_to_any_field_in_the_database_is_detected(
    chain: Chain, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain.rows) - 1), label="row")
    field = data.draw(st.sampled_from(EXPORT_COLUMNS), label="field")
    original = chain.rows[index][field]
    value = data.draw(st.one_of(_near(original), _sqlite_values), label="value")
    assume(not (type(value) is type(original) and value == original))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        value = str(value)
    assume(not isinstance(value, list | dict))
    with tempfile.TemporaryDirectory() as folder:
        db = _untyped_copy(chain.db, Path(folder))
        shutil.copy(chain.db.with_suffix(".salt"), db.with_suffix(".salt"))
        con = sqlite3.connect(db, isolation_level=None)
        con.execute(f"UPDATE entries SET {field} = ? WHERE rowid = ?", (value, index + 1))
        con.close()
        with AuditLog.open_readonly(db) as log:
            assert not log.verify().ok
