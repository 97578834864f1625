"""Capture conditions: presets, a [conditions] table, --conditions, the approach."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from drivers.camera.conditions import (
    PRESETS,
    conditions_argument,
    conditions_from_mapping,
    sweep_argument,
)
from gate.errors import ConfigError


def test_presets_order_the_axes_from_ideal_to_harsh() -> None:
    ideal, typical, harsh = PRESETS["ideal"], PRESETS["typical"], PRESETS["harsh"]
    assert ideal.yaw_deg < typical.yaw_deg < harsh.yaw_deg
    assert ideal.light_level > typical.light_level > harsh.light_level
    assert ideal.shutter_s < typical.shutter_s < harsh.shutter_s
    assert ideal.read_noise < typical.read_noise < harsh.read_noise
    assert ideal.jpeg_quality > typical.jpeg_quality > harsh.jpeg_quality
    assert not ideal.walk_through and harsh.walk_through
    assert not ideal.glasses and harsh.glasses and harsh.occlusion > 0


def test_a_table_overrides_a_preset_and_names_the_result() -> None:
    c = conditions_from_mapping({"preset": "ideal", "light_level": 0.5})
    assert c.light_level == 0.5 and c.yaw_deg == PRESETS["ideal"].yaw_deg
    assert c.name == "ideal*"  # not to be mistaken for the preset in a report
    named = conditions_from_mapping({"preset": "harsh", "name": "dim", "glasses": False})
    assert named.name == "dim" and not named.glasses
    assert conditions_from_mapping({}) == PRESETS["typical"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"preset": "sunny"}, "not a preset"),
        ({"yaw": 3}, "unknown key"),
        ({"yaw_deg": "wide"}, "expected a float"),
        ({"yaw_deg": 90.0}, "out of range"),
        ({"jpeg_quality": 0}, "out of range"),
        ({"glasses": 1}, "expected a bool"),
        ({"stop_distance_m": 3.0}, "out of range"),
        ({"light_level": float("nan")}, "expected a float"),
    ],
)
def test_bad_tables_are_one_clear_error(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        conditions_from_mapping(table)


def test_the_command_line_takes_presets_and_files(tmp_path: Path) -> None:
    assert [c.name for c in conditions_argument("ideal,harsh")] == ["ideal", "harsh"]
    one = tmp_path / "dim.toml"
    one.write_text('[conditions]\npreset = "typical"\nname = "dim"\nlight_level = 0.3\n')
    (dim,) = conditions_argument(str(one))
    assert dim.name == "dim" and dim.light_level == 0.3
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        '[[conditions]]\nname = "yaw0"\nyaw_deg = 0.0\n\n[[conditions]]\nname = "yaw30"\n'
        "yaw_deg = 30.0\n"
    )
    ideal_yaw = PRESETS["ideal"].yaw_deg
    assert [c.yaw_deg for c in conditions_argument(f"ideal,{sweep}")] == [ideal_yaw, 0.0, 30.0]
    with pytest.raises(ConfigError, match="neither a preset"):
        conditions_argument("sunny")
    with pytest.raises(ConfigError, match="given twice"):
        conditions_argument("ideal,ideal")
    empty = tmp_path / "empty.toml"
    empty.write_text("[other]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"no \[conditions\] table"):
        conditions_argument(str(empty))


def test_the_traveller_walks_in_and_stops_or_walks_through() -> None:
    c = PRESETS["typical"]
    assert c.distance_at(0.0) == c.start_distance_m
    assert c.distance_at(60.0) == pytest.approx(c.stop_distance_m)
    # at walking speed first, slowing to a halt
    assert c.speed_at(0.1) == pytest.approx(c.approach_speed_mps, rel=0.05)
    assert c.speed_at(60.0) == 0.0
    distances = [c.distance_at(t / 10) for t in range(40)]
    assert all(a >= b for a, b in itertools.pairwise(distances))
    walker = PRESETS["harsh"]
    assert walker.distance_at(60.0) < walker.stop_distance_m  # never stops at the camera
    # the pinhole camera: half the distance, twice the eye distance
    assert c.eye_distance_px(0.4) == pytest.approx(2 * c.eye_distance_px(0.8))


def test_a_sweep_names_one_axis_and_its_values() -> None:
    sweep = sweep_argument("yaw=0,15,30")  # the unit may be left out
    assert sweep.axis == "yaw_deg" and sweep.values == (0.0, 15.0, 30.0)
    runs = sweep.conditions(PRESETS["typical"])
    assert [c.name for c in runs] == [
        "typical yaw_deg=0",
        "typical yaw_deg=15",
        "typical yaw_deg=30",
    ]
    assert [c.yaw_deg for c in runs] == [0.0, 15.0, 30.0]
    assert {c.light_level for c in runs} == {PRESETS["typical"].light_level}  # the rest held
    assert sweep_argument("jpeg_quality=90,50").values == (90, 50)
    glasses = sweep_argument("glasses=false,true")
    assert glasses.values == (False, True)
    assert glasses.conditions(PRESETS["ideal"])[1].name == "ideal glasses=true"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yaw", "expected AXIS=V1,V2"),
        ("fog=1,2", "not an axis"),
        ("name=a,b", "not an axis"),
        ("yaw=0,ten", "'ten' is not a number"),
        ("yaw=0,nan", "'nan' is not a number"),
        ("jpeg_quality=90,85.5", "not an integer"),
        ("yaw=0,90", "out of range"),
        ("yaw=15,15", "given twice"),
        ("glasses=maybe", "not true or false"),
    ],
)
def test_a_bad_sweep_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sweep_argument(text)
