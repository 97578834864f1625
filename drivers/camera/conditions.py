"""Capture conditions of a simulated approach, named and chosen on purpose.

A ``Conditions`` value says how a rendered traveller moves and how the camera sees them, in
physical units where there are some, so a report can name the condition under which a
traveller was lost. Three presets (``PRESETS``):

* ``ideal``: the calibration point. A cooperative traveller stops close to the camera,
  turns the head only as much as the gate's liveness needs to see it move, under even
  frontal light, a fast shutter, low sensor noise and light JPEG compression. Under ideal
  conditions the gate should lose nothing the matcher would not.
* ``typical``: a traveller at a normal pace, a shutter of 1/60 s, light from one side,
  the head turning more, a camera further away, default JPEG.
* ``harsh``: dim light from the side, large head turns, a traveller walking through without
  stopping, a slow shutter, a noisy sensor, strong JPEG, glasses and part of the lower face
  covered.

A ``[conditions]`` table (in a scenario, or a TOML file given with ``--conditions``) names a
preset and overrides any axis::

    [conditions]
    preset = "typical"     # ideal, typical or harsh (default: typical)
    name = "typical-dim"   # how reports name it (default: the preset's name)
    light_level = 0.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from gate.errors import ConfigError

# The synthetic camera: 640 x 480 pixels over a horizontal field of view of about 60 degrees.
FOCAL_PX = 554.0
EYE_DISTANCE_M = 0.063  # between the eye centres of an adult, metres
FRAME_RATE = 30.0  # frames per second of the approach sequence


@dataclass(frozen=True)
class Conditions:
    """One capture condition (every axis has a unit; see the module's docstring)."""

    name: str = "typical"
    yaw_deg: float = 16.0  # amplitude of the head's left-right turns
    pitch_deg: float = 5.0  # amplitude of its up-down nods
    roll_deg: float = 3.0  # amplitude of its in-plane tilt
    light_level: float = 0.8  # scene illumination, 1 = the camera's design level
    light_azimuth_deg: float = 25.0  # direction of the key light, 0 = from the camera
    shutter_s: float = 1 / 60  # exposure time: motion blur grows with it
    start_distance_m: float = 1.2  # where the approach starts
    stop_distance_m: float = 0.55  # where the traveller stops, in front of the camera
    approach_speed_mps: float = 1.0  # walking speed
    walk_through: bool = False  # True: the traveller never stops (no standing still)
    read_noise: float = 2.0  # sensor read noise at the design level, grey levels (0-255)
    jpeg_quality: int = 85  # the camera's JPEG quality (1-100)
    glasses: bool = False  # spectacle frames on the face
    occlusion: float = 0.0  # share of the face's height covered from the chin up (0-0.5)

    def __post_init__(self) -> None:
        checks = (
            ("yaw_deg", 0.0 <= self.yaw_deg <= 45.0, "0..45"),
            ("pitch_deg", 0.0 <= self.pitch_deg <= 30.0, "0..30"),
            ("roll_deg", 0.0 <= self.roll_deg <= 20.0, "0..20"),
            ("light_level", 0.05 <= self.light_level <= 4.0, "0.05..4"),
            ("light_azimuth_deg", -90.0 <= self.light_azimuth_deg <= 90.0, "-90..90"),
            ("shutter_s", 0.0 <= self.shutter_s <= 0.1, "0..0.1"),
            ("start_distance_m", 0.3 <= self.start_distance_m <= 5.0, "0.3..5"),
            ("stop_distance_m", 0.25 <= self.stop_distance_m <= self.start_distance_m,
             "0.25..start_distance_m"),
            ("approach_speed_mps", 0.05 <= self.approach_speed_mps <= 3.0, "0.05..3"),
            ("read_noise", 0.0 <= self.read_noise <= 30.0, "0..30"),
            ("jpeg_quality", 1 <= self.jpeg_quality <= 100, "1..100"),
            ("occlusion", 0.0 <= self.occlusion <= 0.5, "0..0.5"),
        )  # fmt: skip
        for key, ok, allowed in checks:
            if not ok:
                raise ConfigError(
                    f"conditions.{key}: {getattr(self, key)!r} is out of range ({allowed})"
                )
        if not self.name.strip():
            raise ConfigError("conditions.name: must not be empty")

    def eye_distance_px(self, distance_m: float) -> float:
        """The eye distance in the picture of a face ``distance_m`` from the camera."""
        return FOCAL_PX * EYE_DISTANCE_M / distance_m

    def distance_at(self, seconds: float) -> float:
        """How far the traveller is at ``seconds`` into the approach (metres)."""
        walked = self.approach_speed_mps * seconds
        if self.walk_through:
            # never stops: goes on past the stop point, at most to 60 % of it
            return max(self.start_distance_m - walked, 0.6 * self.stop_distance_m)
        travel = self.start_distance_m - self.stop_distance_m
        if travel <= 0:
            return self.stop_distance_m
        # walks at the given speed, then slows to a halt over the last 30 % of the way
        brake = 0.3 * travel
        if walked <= travel - brake:
            return self.start_distance_m - walked
        rest = walked - (travel - brake)
        braking_time = 2 * brake / self.approach_speed_mps
        u = min(1.0, rest / (self.approach_speed_mps * braking_time))
        return self.stop_distance_m + brake * (1 - u) ** 2

    def speed_at(self, seconds: float, dt: float = 1 / FRAME_RATE) -> float:
        """How fast the distance shrinks at ``seconds`` (metres per second)."""
        return max(0.0, (self.distance_at(seconds) - self.distance_at(seconds + dt)) / dt)

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PRESETS: dict[str, Conditions] = {
    "ideal": Conditions(
        name="ideal",
        yaw_deg=13.0,
        pitch_deg=3.0,
        roll_deg=2.0,
        light_level=1.0,
        light_azimuth_deg=0.0,
        shutter_s=1 / 500,
        start_distance_m=1.0,
        stop_distance_m=0.45,
        approach_speed_mps=0.8,
        read_noise=1.0,
        jpeg_quality=95,
    ),
    "typical": Conditions(name="typical"),
    "harsh": Conditions(
        name="harsh",
        yaw_deg=20.0,
        pitch_deg=8.0,
        roll_deg=5.0,
        light_level=0.45,
        light_azimuth_deg=45.0,
        shutter_s=1 / 40,
        start_distance_m=1.5,
        stop_distance_m=0.65,
        approach_speed_mps=1.3,
        walk_through=True,
        read_noise=4.0,
        jpeg_quality=70,
        glasses=True,
        occlusion=0.1,
    ),
}
DEFAULT_CONDITIONS = "typical"


def conditions_from_mapping(table: Mapping[str, Any], where: str = "[conditions]") -> Conditions:
    """A ``[conditions]`` table: a ``preset`` plus any axis overridden."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table")
    known = {f.name for f in fields(Conditions)} | {"preset"}
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown key {where}.{key} (known: {', '.join(sorted(known))})")
    preset_name = table.get("preset", DEFAULT_CONDITIONS)
    base = preset(preset_name, where=f"{where}.preset")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "preset":
            continue
        current = getattr(base, key)
        if isinstance(current, bool):
            ok = isinstance(value, bool)
        elif isinstance(current, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(current, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
            value = float(value) if ok else value
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ConfigError(f"{where}.{key}: expected a {type(current).__name__}, got {value!r}")
        values[key] = value
    if "name" not in values:
        values["name"] = base.name if len(values) == 0 else f"{base.name}*"
    try:
        return replace(base, **values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def preset(name: object, where: str = "conditions") -> Conditions:
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"{where}: {name!r} is not a preset ({', '.join(PRESETS)})")
    return PRESETS[name]


def conditions_argument(text: str) -> tuple[Conditions, ...]:
    """``--conditions``: preset names and TOML files, comma-separated. A file holds a
    ``[conditions]`` table (a scenario's, say) or several ``[[conditions]]`` tables."""
    from pathlib import Path

    from gate.toml_files import load_toml

    out: list[Conditions] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise ConfigError(f"--conditions {text!r}: an empty name")
        if item in PRESETS:
            out.append(PRESETS[item])
            continue
        path = Path(item)
        if not path.suffix == ".toml" and not path.exists():
            raise ConfigError(
                f"--conditions: {item!r} is neither a preset ({', '.join(PRESETS)}) nor a TOML file"
            )
        data = load_toml(path, "conditions file")
        tables = data.get("conditions")
        if tables is None:
            raise ConfigError(f"{path}: no [conditions] table")
        for number, table in enumerate(tables if isinstance(tables, list) else [tables]):
            where = (
                f"{path}: [conditions]"
                if not isinstance(tables, list)
                else (f"{path}: [[conditions]] #{number + 1}")
            )
            out.append(conditions_from_mapping(table, where))
    names = [c.name for c in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"--conditions: the name {repeated[0]!r} is given twice")
    return tuple(out)


_UNIT_SUFFIXES = ("_deg", "_mps", "_m", "_s")


def axis_name(name: str) -> str:
    """A condition's field from its name with or without the unit (``yaw``: ``yaw_deg``)."""
    names = [f.name for f in fields(Conditions) if f.name != "name"]
    if name in names:
        return name
    for field_name in names:
        for suffix in _UNIT_SUFFIXES:
            if field_name.endswith(suffix) and field_name[: -len(suffix)] == name:
                return field_name
    raise ConfigError(f"--sweep: {name!r} is not an axis of the conditions ({', '.join(names)})")


@dataclass(frozen=True)
class Sweep:
    """``--sweep AXIS=V1,V2,...``: one axis of a base condition, run at each value."""

    axis: str  # a field of ``Conditions``
    values: tuple[float | int | bool, ...]

    def conditions(self, base: Conditions) -> tuple[Conditions, ...]:
        """The base condition at each value, named ``BASE AXIS=VALUE``."""
        out = []
        for value in self.values:
            try:
                changes: dict[str, Any] = {self.axis: value, "name": self.label(base, value)}
                out.append(replace(base, **changes))
            except ConfigError as exc:
                raise ConfigError(f"--sweep on {base.name}: {exc}") from exc
        return tuple(out)

    def label(self, base: Conditions, value: float | int | bool) -> str:
        return (
            f"{base.name} {self.axis}={value:g}"
            if not isinstance(value, bool)
            else (f"{base.name} {self.axis}={str(value).lower()}")
        )


def sweep_argument(text: str) -> Sweep:
    """Parse ``AXIS=V1,V2,...``; each value is checked against the axis's range."""
    axis_text, sep, values_text = text.partition("=")
    if not sep or not values_text.strip():
        raise ConfigError(f"--sweep {text!r}: expected AXIS=V1,V2,... (e.g. yaw=0,15,30)")
    axis = axis_name(axis_text.strip())
    kind = type(getattr(PRESETS["ideal"], axis))
    values: list[float | int | bool] = []
    for item in (part.strip() for part in values_text.split(",")):
        try:
            if kind is bool:
                if item.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(item)
                values.append(item.lower() in ("true", "1", "yes"))
            elif kind is int:
                values.append(int(item))
            else:
                number = float(item)
                if not math.isfinite(number):
                    raise ValueError(item)
                values.append(number)
        except ValueError:
            wanted = {bool: "true or false", int: "an integer"}.get(kind, "a number")
            raise ConfigError(f"--sweep {axis}: {item!r} is not {wanted}") from None
    if len(set(values)) != len(values):
        raise ConfigError(f"--sweep {axis}: a value is given twice")
    sweep = Sweep(axis, tuple(values))
    lenient = replace(PRESETS["ideal"], start_distance_m=5.0)  # ranges, not a base's limits
    sweep.conditions(lenient)
    return sweep
