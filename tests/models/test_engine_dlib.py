"""The real dlib-cc0 pack end to end: prepare (idempotent), genuine/impostor pairs, CLI.

Builds the pack once per session into a temporary $EGATE_HOME (a few seconds).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.cli import main
from gate.errors import MultipleFacesError
from gate.images import load_image
from models.engine import FaceEngine, load_engine
from models.pack import prepare_pack, verify_pack


@pytest.fixture(scope="module")
def dlib_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("egate_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EGATE_HOME", str(home))
        first = prepare_pack("dlib-cc0")
        assert first.changed
        yield home


@pytest.fixture(scope="module")
def engine(dlib_home: Path) -> FaceEngine:
    return load_engine("dlib-cc0", threads=2)


def portrait(sample_images: Path) -> np.ndarray:
    """The 112x112 Tom Hanks sample, doubled and given some context for the detector."""
    face = load_image(sample_images / "Tom_Hanks_54745.png")
    bigger = cv2.resize(face, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return np.asarray(cv2.copyMakeBorder(bigger, 60, 60, 60, 60, cv2.BORDER_REPLICATE))


def test_prepare_is_idempotent_and_verifiable(dlib_home: Path) -> None:
    manifest = verify_pack("dlib-cc0")
    assert set(manifest.files) == {"embedder", "landmarks", "detector"}
    assert manifest.distance == "euclidean" and manifest.embedding_size == 128
    again = prepare_pack("dlib-cc0")
    assert not again.changed and again.manifest == manifest


def test_models_cli_up_to_date_and_list(
    dlib_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "prepare", "--pack", "dlib-cc0"]) == 0
    assert "pack dlib-cc0 is up to date" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    assert "dlib-cc0" in capsys.readouterr().out


def test_genuine_pairs_match(engine: FaceEngine, sample_images: Path) -> None:
    reference = portrait(sample_images)
    smaller = cv2.resize(reference, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    variants = [
        np.ascontiguousarray(reference[:, ::-1]),
        np.asarray(cv2.convertScaleAbs(smaller, alpha=1.15, beta=25), np.uint8),
    ]
    base = engine.embed_one(reference, policy="single").embedding
    for variant in variants:
        other = engine.embed_one(variant, policy="single").embedding
        distance = engine.distance(base, other)
        assert engine.is_match(distance), distance


def test_group_photo_faces_do_not_match_each_other(engine: FaceEngine, sample_images: Path) -> None:
    group = load_image(sample_images / "t1.jpg")
    faces = engine.analyze(group)
    assert len(faces) == 6
    areas = [f.detection.box.area for f in faces]
    assert areas == sorted(areas, reverse=True)
    embeddings = engine.embed(group, faces)
    assert embeddings.shape == (6, 128)
    pairs = list(itertools.combinations(range(6), 2))
    distances = engine.distances(
        embeddings[[a for a, _ in pairs]], embeddings[[b for _, b in pairs]]
    )
    assert not any(engine.is_match(float(d)) for d in distances), distances.min()
    with pytest.raises(MultipleFacesError, match="6 faces found"):
        engine.embed_one(group, policy="single")


def test_stage_timings_and_chip(engine: FaceEngine, sample_images: Path) -> None:
    image = portrait(sample_images)
    timings: dict[str, float] = {}
    face = engine.embed_one(image, timings=timings)
    assert set(timings) == {"detect", "landmarks", "align", "embed"}
    chip = engine.align(image, face)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8


def test_verify_cli_with_the_real_pack(
    dlib_home: Path, sample_images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left, right = tmp_path / "a.png", tmp_path / "b.jpg"
    cv2.imwrite(str(left), portrait(sample_images))
    cv2.imwrite(str(right), portrait(sample_images)[:, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert main(["verify", "--pack", "dlib-cc0", str(left), str(right)]) == 0
    assert capsys.readouterr().out.startswith("MATCH: distance ")
    code = main(["verify", "--pack", "dlib-cc0", str(left), str(sample_images / "t1.jpg")])
    err = capsys.readouterr().err
    assert code == 2 and "t1.jpg: 6 faces found (verify needs exactly one face" in err
    assert main(["demo-verify", "--pack", "dlib-cc0"]) == 0
    out = capsys.readouterr().out
    rows = out.splitlines()[2:]  # after the summary line and the table header
    assert len(rows) == 3 + 15 + 1 and all(row.endswith(" ok") for row in rows), out


def test_tampered_file_is_named(dlib_home: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(dlib_home / "packs" / "dlib-cc0", copy)
    landmarks = copy / verify_pack(copy).files["landmarks"].path
    data = bytearray(landmarks.read_bytes())
    data[len(data) // 2] ^= 1
    landmarks.write_bytes(bytes(data))
    with pytest.raises(Exception, match=rf"{landmarks.name} \(landmarks\) has sha256"):
        load_engine(copy)
    assert os.environ["EGATE_HOME"] == str(dlib_home)
