"""Kiosk TOML config: defaults, paths, and errors that name the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import GateConfig, load_config
from gate.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kiosk.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, ""))
    assert cfg == GateConfig()
    assert cfg.policy().target_fmr == "1e-3"


def test_values_and_relative_paths(tmp_path: Path) -> None:
    cfg = load_config(
        _write(
            tmp_path,
            """
[face]
target_fmr = "1e-4"
[timeouts]
capture_s = 4
[audit]
path = "var/audit.db"
[reader]
trust_store = "/etc/egate/csca"
mrz_source = "scanner.fifo"
""",
        )
    )
    assert cfg.face.target_fmr == "1e-4"
    assert cfg.timeouts.capture_s == 4.0 and isinstance(cfg.timeouts.capture_s, float)
    assert cfg.audit.path == tmp_path / "var" / "audit.db"
    assert cfg.reader.trust_store == Path("/etc/egate/csca")
    assert cfg.reader.mrz_source == str(tmp_path / "scanner.fifo")
    assert cfg.policy().target_fmr == "1e-4"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[timeouts]\npasage_s = 3\n", "timeouts.pasage_s"),
        ("[turnstyle]\naddress = 'x'\n", "[turnstyle]"),
        ("[timeouts]\ncapture_s = 'fast'\n", "timeouts.capture_s"),
        ("[timeouts]\ncapture_s = -1\n", "timeouts.capture_s"),
        ("[timeouts]\ncapture_s = nan\n", "timeouts.capture_s"),
        ("[liveness]\nthreshold = 1.5\n", "liveness.threshold"),
        ("[face]\ntarget_fmr = '0.5'\n", "face.target_fmr"),
        ("[document]\nrequire_passive_auth = 'yes'\n", "document.require_passive_auth"),
        ("[camera]\nmin_face = 1.5\n", "camera.min_face"),
        ("[camera]\nmin_face = true\n", "camera.min_face"),
        ("[turnstile]\naddress = '  '\n", "turnstile.address"),
        ("[audit]\npath = ''\n", "audit.path"),
        ("camera = 3\n", "[camera]"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, names: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert names in str(exc.value)
    assert str(path) in str(exc.value)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[camera\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_shipped_example_is_valid() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.turnstile.address
    assert cfg.audit.path.is_absolute()
