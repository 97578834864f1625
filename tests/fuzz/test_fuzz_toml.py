"""Kiosk configs and scenarios written by someone careless or hostile: TOML that nests deep,
lies about its keys, mixes types, is not UTF-8 or is not TOML at all. ``load_config`` and
``load_scenario`` give a validated value or a ``ConfigError`` naming the file; nothing else,
and never a hang (tomllib recursion, quadratic dotted keys)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.config import GateConfig, load_config
from gate.errors import ConfigError
from gate.simulate.scenario import Scenario, load_scenario
from tests.fuzz.profile import fuzz_settings, time_limit

KEYS = st.sampled_from(
    ["lane", "camera", "reader", "turnstile", "timeouts", "audit", "name", "address", "min_face",
     "capture_s", "threshold", "path", "scenario", "traveller", "kind", "photo", "seed", "expect",
     "a", "b", "\"q.uoted\"", "'lit'", "é"]
)  # fmt: skip
SCALARS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "-inf", "true", "false", "1979-05-27T07:32:00Z", "0x1F", "1_000"]),
    st.text(max_size=20).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(["'sample:t1.jpg#²'", "'sample:t1.jpg#0'", "'genuine'", "'~nouser/x'"]),
)


def _value(depth: int) -> st.SearchStrategy[str]:
    inner = st.deferred(lambda: _value(depth + 1)) if depth < 6 else SCALARS
    return st.one_of(
        SCALARS,
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(KEYS, inner), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in kv) + "}"
        ),
    )


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        form = draw(st.sampled_from(["table", "array-table", "pair", "dotted", "junk"]))
        key = ".".join(draw(st.lists(KEYS, min_size=1, max_size=3)))
        if form == "table":
            lines.append(f"[{key}]")
        elif form == "array-table":
            lines.append(f"[[{key}]]")
        elif form == "pair":
            lines.append(f"{key} = {draw(_value(0))}")
        elif form == "dotted":
            lines.append(".".join([key] * draw(st.integers(1, 60))) + " = 1")
        else:
            lines.append(draw(st.text(max_size=30)))
    text = "\n".join(lines)
    deep = draw(st.sampled_from([0, 0, 0, 33, 1000, 30_000]))
    if deep:
        opener = draw(st.sampled_from(["[", "{a = ", '"""[', "# ["]))
        text += "\nz = " + opener * deep
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = draw(st.binary(max_size=16)) + data
    return data


@pytest.mark.timeout(time_limit(300, 300))
@fuzz_settings(300)
@given(documents())
def test_config_is_a_config_or_a_config_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(data)
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)  # one line, naming the file
        return
    assert isinstance(config, GateConfig)


@pytest.mark.timeout(time_limit(300, 300))
@fuzz_settings(300)
@given(documents())
def test_scenario_is_a_scenario_or_a_config_error(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "faces").mkdir(exist_ok=True)
    path = tmp_path / "scenario.toml"
    path.write_bytes(data)
    try:
        scenario = load_scenario(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(scenario, Scenario) and scenario.travellers
    assert 0 <= scenario.seed < 2**32
