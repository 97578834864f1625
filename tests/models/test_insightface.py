"""InsightFace packs with tiny generated ONNX models of buffalo_l's signatures."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from gate.errors import ModelError
from models.engine import load_engine
from models.insightface_pack import find_models, read_signature, route
from models.manifest import sha256_file
from models.pack import load_manifest, verify_pack, write_thresholds
from tests.conftest import TINY_KPS_OFFSETS, write_tiny_arcface, write_tiny_scrfd

ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)


def scene() -> np.ndarray:
    """Black 640x480 frame with one white 32x32 square on the stride-32 grid: one 'face'."""
    image = np.zeros((480, 640, 3), np.uint8)
    image[192:224, 320:352] = 255
    # texture so that the aligned chip is not constant
    image[150:260, 280:400, 1] = np.arange(120, dtype=np.uint8)[None, :] * 2
    return image


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity src -> dst (2x3), written independently of scikit-image."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(sigma) @ sign) / s.var(0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_d - scale * rotation @ mu_s
    return matrix


def test_routing_follows_model_zoo_rules(tiny_insightface_pack: Path) -> None:
    routes = {p.name: route(read_signature(p)) for p in tiny_insightface_pack.glob("*.onnx")}
    assert routes == {
        "det_10g.onnx": "detector",
        "w600k_r50.onnx": "recognition",
        "2d106det.onnx": None,
    }


def test_synthesised_manifest_hashes_the_routed_files(tiny_insightface_pack: Path) -> None:
    manifest = load_manifest(tiny_insightface_pack)
    assert manifest.kind == "insightface" and manifest.distance == "cosine"
    assert manifest.embedding_size == 512 and manifest.input.chip_size == 112
    assert manifest.files["detector"].path == "det_10g.onnx"
    assert manifest.files["recognition"].sha256 == sha256_file(
        tiny_insightface_pack / "w600k_r50.onnx"
    )
    assert set(manifest.thresholds) == {"1e-2", "1e-3", "1e-4"}
    assert verify_pack(tiny_insightface_pack).id == "buffalo_tiny"


def test_detector_gives_box_and_five_points(tiny_insightface_pack: Path) -> None:
    engine = load_engine(tiny_insightface_pack, threads=1)
    faces = engine.analyze(scene(), min_face=100)
    assert len(faces) == 1
    box = faces[0].detection.box
    # SCRFD anchors sit at cell * stride: the stride-32 cell (10, 6) under the square has
    # its anchor at (320, 192); the tiny model's box is +-2 strides around it.
    assert (box.left, box.top, box.right, box.bottom) == pytest.approx(
        (256, 128, 384, 256), abs=1e-3
    )
    expected = np.array(TINY_KPS_OFFSETS).reshape(5, 2) * 32 + [box.left + 64, box.top + 64]
    np.testing.assert_allclose(faces[0].landmarks.as_array(), expected, atol=1e-3)
    assert len(engine.analyze(scene(), min_face=0)) > 1  # smaller strides fire too


def test_alignment_is_the_arcface_template_warp(tiny_insightface_pack: Path) -> None:
    engine = load_engine(tiny_insightface_pack, threads=1)
    image = scene()
    face = engine.analyze(image, min_face=100)[0]
    chip = engine.align(image, face)
    matrix = umeyama(face.landmarks.as_array(), ARCFACE_TEMPLATE)
    expected = cv2.warpAffine(image, matrix, (112, 112), borderValue=0.0)
    assert chip.shape == (112, 112, 3)
    assert np.abs(chip.astype(int) - expected.astype(int)).max() <= 1
    assert chip.std() > 10


def test_embedding_matches_the_onnx_model_on_the_chip(tiny_insightface_pack: Path) -> None:
    engine = load_engine(tiny_insightface_pack, threads=1)
    image = scene()
    face = engine.embed_one(image, min_face=100)
    chip = engine.align(image, face)
    blob = ((chip[:, :, ::-1].astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
    session = ort.InferenceSession(str(tiny_insightface_pack / "w600k_r50.onnx"))
    (reference,) = session.run(None, {"input.1": blob})
    assert face.embedding is not None
    np.testing.assert_allclose(face.embedding, reference[0], rtol=1e-4, atol=1e-4)


def test_batched_embedding_equals_one_by_one(tiny_insightface_pack: Path) -> None:
    engine = load_engine(tiny_insightface_pack, threads=1)
    rng = np.random.default_rng(3)
    chips = [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(3)]
    batch = engine.embed_chips(chips)
    single = np.vstack([engine.embed_chips([c]) for c in chips])
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-5)
    assert engine.distance(batch[0], batch[0]) == pytest.approx(0.0, abs=1e-6)
    assert engine.distance(batch[0], -batch[0]) == pytest.approx(2.0, abs=1e-6)


def test_fixed_batch_of_one_is_fed_chip_by_chip(tiny_insightface_pack: Path) -> None:
    write_tiny_arcface(tiny_insightface_pack / "w600k_r50.onnx", batch=1)
    engine = load_engine(tiny_insightface_pack, threads=1)
    chips = [np.full((112, 112, 3), v, np.uint8) for v in (0, 90, 200)]
    assert engine.embed_chips(chips).shape == (3, 512)


def test_missing_detector(tmp_path: Path) -> None:
    write_tiny_arcface(tmp_path / "w600k_r50.onnx")
    with pytest.raises(ModelError, match=r"no SCRFD detector"):
        load_engine(tmp_path)


def test_wrong_recogniser_input_shape_names_file_and_shape(tmp_path: Path) -> None:
    write_tiny_scrfd(tmp_path / "det_10g.onnx")
    write_tiny_arcface(tmp_path / "w600k_r50.onnx", size=(100, 100))
    with pytest.raises(
        ModelError, match=r"no ArcFace recognition model.*w600k_r50\.onnx \(input Nx3x100x100\)"
    ):
        load_engine(tmp_path)


def test_detector_without_key_points_is_refused(tmp_path: Path) -> None:
    write_tiny_scrfd(tmp_path / "det_500m.onnx", outputs=6)
    write_tiny_arcface(tmp_path / "w600k_r50.onnx")
    with pytest.raises(
        ModelError, match=r"det_500m\.onnx: SCRFD detector with 6 outputs gives no key"
    ):
        find_models(tmp_path)


def test_manifest_pointing_at_a_wrong_model(tiny_insightface_pack: Path) -> None:
    write_thresholds(tiny_insightface_pack, {"1e-3": 0.7}, "test")
    write_tiny_arcface(tiny_insightface_pack / "other.onnx", size=(100, 100))
    manifest_file = tiny_insightface_pack / "manifest.json"
    data = json.loads(manifest_file.read_text())
    other = tiny_insightface_pack / "other.onnx"
    data["files"]["recognition"] = {
        "path": "other.onnx",
        "sha256": sha256_file(other),
        "size": other.stat().st_size,
    }
    manifest_file.write_text(json.dumps(data))
    with pytest.raises(
        ModelError, match=r"other\.onnx: input shape Nx3x100x100 .* not an InsightFace recognition"
    ):
        load_engine(tiny_insightface_pack)


def test_written_thresholds_are_used(tiny_insightface_pack: Path) -> None:
    write_thresholds(tiny_insightface_pack, {"1e-3": 0.55}, "calibrated on a test set")
    engine = load_engine(tiny_insightface_pack, threads=1)
    assert engine.threshold("1e-3") == 0.55 and engine.threshold("1e-2") == 0.80
    (tiny_insightface_pack / "det_10g.onnx").write_bytes(b"x" * 10)
    with pytest.raises(ModelError, match=r"det_10g\.onnx \(detector\) is 10 bytes"):
        load_engine(tiny_insightface_pack)
