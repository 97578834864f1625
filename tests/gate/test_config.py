"""Kiosk TOML config: defaults, paths, and errors that name the key and the problem."""

from __future__ import annotations

import os
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


# -- hostile files (issue "Safety and integrity", part 6) ---------------------------------------

DEEP = 30_000


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * DEEP + "]" * DEEP,  # tomllib: RecursionError
        "x = " + "{a = " * DEEP + "1" + "}" * DEEP,  # tomllib: RecursionError
        "a" + ".a" * DEEP + " = 1",  # tomllib: quadratic, seconds to minutes
        "[a" + ".a" * DEEP + "]",
        '"a"' + '."a"' * DEEP + " = 1",
    ],
    ids=["arrays", "inline-tables", "dotted-key", "table-header", "quoted-dotted-key"],
)
def test_deep_nesting_is_refused_before_parsing(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=r"nested more than 32 levels deep") as exc:
        load_config(path)
    assert str(path) in str(exc.value)


def test_nesting_up_to_the_limit_and_brackets_in_strings_are_fine(tmp_path: Path) -> None:
    text = (
        '[lane]\nname = "[[[[{{{{ # not a comment"  # [[[[ a comment\n'
        "[camera]\naddress = '''\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n'''\n"
    )
    assert load_config(_write(tmp_path, text)).lane.name == "[[[[{{{{ # not a comment"
    from gate.toml_files import MAX_TOML_DEPTH, toml_nesting_depth

    assert toml_nesting_depth(text) == 1
    assert toml_nesting_depth("x = " + "[" * MAX_TOML_DEPTH) == MAX_TOML_DEPTH


@pytest.mark.timeout(30)
def test_fifo_config_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "kiosk.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"cannot read config file .*FIFO"):
        load_config(fifo)


def test_directory_huge_and_binary_configs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (1 << 20) + b"\n")
    with pytest.raises(ConfigError, match="over the 1048576-byte limit"):
        load_config(big)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe[camera]\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_unknown_home_directory_is_a_config_error(tmp_path: Path) -> None:
    """pathlib raises RuntimeError for ~user when there is no such user."""
    path = _write(tmp_path, "[audit]\npath = '~no-such-user-egate/audit.db'\n")
    with pytest.raises(ConfigError, match="audit.path: cannot expand"):
        load_config(path)
