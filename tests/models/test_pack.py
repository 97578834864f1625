"""models.manifest and models.pack: manifests, the registry, verification and prepare."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from gate.errors import ModelError
from models.manifest import InputSpec, PackManifest, describe_file, write_manifest
from models.pack import (
    egate_home,
    list_packs,
    load_manifest,
    pack_dir,
    prepare_pack,
    verify_pack,
    write_thresholds,
)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EGATE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def make_pack(root: Path, pack_id: str = "demo") -> Path:
    folder = root / "packs" / pack_id
    folder.mkdir(parents=True)
    (folder / "embedder.onnx").write_bytes(b"embedder-bytes")
    (folder / "landmarks.npz").write_bytes(b"landmark-bytes")
    manifest = PackManifest(
        id=pack_id,
        kind="dlib-cc0",
        files={
            "embedder": describe_file(folder, "embedder.onnx"),
            "landmarks": describe_file(folder, "landmarks.npz"),
        },
        input=InputSpec(150, "RGB", "(x - avg) / 256", "dlib-get-face-chip(150, 0.25)"),
        embedding_size=128,
        distance="euclidean",
        thresholds={"1e-3": 0.6},
        calibration="uncalibrated",
        created_with={"converter": "1"},
    )
    write_manifest(folder, manifest)
    return folder


def test_egate_home_from_environment(home: Path) -> None:
    assert egate_home() == home


def test_egate_home_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EGATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert egate_home() == tmp_path / ".cache" / "egate"


def test_manifest_json_round_trip(home: Path) -> None:
    folder = make_pack(home)
    manifest = load_manifest("demo")
    assert manifest.files["embedder"].size == len(b"embedder-bytes")
    again = PackManifest.from_json(manifest.to_json(), "memory")
    assert again == manifest
    data = json.loads((folder / "manifest.json").read_text())
    assert data["distance"] == "euclidean" and data["thresholds"] == {"1e-3": 0.6}


def test_pack_by_path_and_by_id(home: Path) -> None:
    folder = make_pack(home)
    assert pack_dir("demo") == folder
    assert pack_dir(folder) == folder
    assert pack_dir(str(folder)) == folder
    assert list_packs() == [folder]


def test_bare_folder_name_in_the_working_directory(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_pack(tmp_path / "elsewhere", "buffalo_x")
    monkeypatch.chdir(folder.parent)
    assert pack_dir("buffalo_x") == Path("buffalo_x")
    assert load_manifest("buffalo_x").id == "buffalo_x"


def test_missing_pack_says_how_to_prepare(home: Path) -> None:
    with pytest.raises(
        ModelError, match=r"'fusion' is not installed .*egate models prepare --pack fusion"
    ):
        pack_dir(None)
    with pytest.raises(ModelError, match="does not exist"):
        pack_dir(home / "nowhere")


def test_verify_names_the_file_that_differs(home: Path) -> None:
    folder = make_pack(home)
    assert verify_pack("demo").id == "demo"
    (folder / "landmarks.npz").write_bytes(b"landmark-BYTES")  # same size, other content
    with pytest.raises(ModelError, match=r"landmarks\.npz \(landmarks\) has sha256"):
        verify_pack("demo")


def test_verify_names_a_missing_file_and_a_size_change(home: Path) -> None:
    folder = make_pack(home)
    (folder / "embedder.onnx").write_bytes(b"short")
    with pytest.raises(ModelError, match=r"embedder\.onnx \(embedder\) is 5 bytes, the manifest"):
        verify_pack("demo")
    (folder / "embedder.onnx").unlink()
    with pytest.raises(ModelError, match=r"embedder\.onnx \(embedder\) is missing"):
        verify_pack("demo")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("distance"), "missing field 'distance'"),
        (lambda d: d.update(distance="manhattan"), "'distance' is 'manhattan'"),
        (lambda d: d.update(embedding_size="128"), "'embedding_size' has the wrong type"),
        (lambda d: d["files"]["embedder"].update(path="../x"), "leaves the pack folder"),
        (lambda d: d["thresholds"].update({"1e-3": "x"}), r"thresholds\.1e-3 is not a number"),
    ],
)
def test_bad_manifest_fields_are_named(home: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    folder = make_pack(home)
    data = json.loads((folder / "manifest.json").read_text())
    edit(data)
    (folder / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match=message):
        load_manifest("demo")


def test_manifest_not_json(home: Path) -> None:
    folder = make_pack(home)
    (folder / "manifest.json").write_text("{nope")
    with pytest.raises(ModelError, match="manifest.json: not valid JSON"):
        load_manifest(folder)


def test_write_thresholds_keeps_the_rest(home: Path) -> None:
    make_pack(home)
    write_thresholds("demo", {"1e-2": 0.65, "1e-4": 0.5}, "lfw-dev: 3000 genuine, 2.5M impostor")
    manifest = verify_pack("demo")
    assert manifest.thresholds == {"1e-2": 0.65, "1e-3": 0.6, "1e-4": 0.5}
    assert manifest.calibration.startswith("lfw-dev")
    with pytest.raises(ModelError, match="not an FMR"):
        write_thresholds("demo", {"strict": 0.1}, "x")


# -- prepare with a stand-in converter (the real one is exercised in test_engine_dlib) ------


@pytest.fixture()
def fake_converter(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    module = types.ModuleType("models.dlib.prepare")

    def prepare_dlib_files(out_dir: Path) -> dict[str, Path]:
        calls.append(out_dir)
        files = {}
        for role, name in (("embedder", "e.onnx"), ("landmarks", "l.npz"), ("detector", "d.onnx")):
            (out_dir / name).write_bytes(role.encode() * 10)
            files[role] = out_dir / name
        return files

    module.prepare_dlib_files = prepare_dlib_files  # type: ignore[attr-defined]
    module.CONVERTER_VERSION = "test-1"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "models.dlib.prepare", module)
    import models.dlib

    monkeypatch.setattr(models.dlib, "prepare", module, raising=False)
    return calls


def test_prepare_is_idempotent(home: Path, fake_converter: list[Path]) -> None:
    first = prepare_pack("dlib-cc0")
    assert first.changed and first.folder == home / "packs" / "dlib-cc0"
    assert first.manifest.created_with["converter"] == "test-1"
    assert set(first.manifest.files) == {"embedder", "landmarks", "detector"}
    again = prepare_pack("dlib-cc0")
    assert not again.changed and len(fake_converter) == 1
    assert verify_pack("dlib-cc0") == first.manifest
    # no staging folders left behind
    assert [p.name for p in (home / "packs").iterdir()] == ["dlib-cc0"]


def test_prepare_rebuilds_a_damaged_pack_and_on_force(
    home: Path, fake_converter: list[Path]
) -> None:
    prepare_pack("dlib-cc0")
    (home / "packs" / "dlib-cc0" / "e.onnx").write_bytes(b"tampered")
    assert prepare_pack("dlib-cc0").changed
    verify_pack("dlib-cc0")
    assert prepare_pack("dlib-cc0", force=True).changed
    assert len(fake_converter) == 3


def test_prepare_rebuilds_when_converter_changes(
    home: Path, fake_converter: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare_pack("dlib-cc0")
    monkeypatch.setattr(sys.modules["models.dlib.prepare"], "CONVERTER_VERSION", "test-2")
    result = prepare_pack("dlib-cc0")
    assert result.changed and result.manifest.created_with["converter"] == "test-2"


def test_failed_prepare_keeps_the_old_pack(
    home: Path, fake_converter: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare_pack("dlib-cc0")

    def broken(out_dir: Path) -> dict[str, Path]:
        raise ModelError("converter exploded")

    monkeypatch.setattr(sys.modules["models.dlib.prepare"], "prepare_dlib_files", broken)
    with pytest.raises(ModelError, match="exploded"):
        prepare_pack("dlib-cc0", force=True)
    verify_pack("dlib-cc0")
    assert [p.name for p in (home / "packs").iterdir()] == ["dlib-cc0"]


def test_only_dlib_is_prepared(home: Path) -> None:
    with pytest.raises(ModelError, match="only dlib-cc0, sface, fusion are built locally"):
        prepare_pack("buffalo_l")
