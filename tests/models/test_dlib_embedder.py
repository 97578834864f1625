"""dlib ResNet embedder -> ONNX: conversion, runtime contract, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gate.errors import InputError, ModelError
from gate.interfaces import Embedder
from models.dlib.embedder import DlibEmbedder, build_embedder_onnx, read_resnet, resnet_layout
from models.onnx_session import OnnxSession

DAT_NAME = "dlib_face_recognition_resnet_model_v1.dat"


@pytest.fixture(scope="module")
def dat_path(dlib_dat_dir: Path) -> Path:
    return dlib_dat_dir / DAT_NAME


@pytest.fixture(scope="module")
def onnx_path(dlib_files: dict[str, Path]) -> Path:
    return dlib_files["embedder"]


@pytest.fixture(scope="module")
def embedder(onnx_path: Path) -> DlibEmbedder:
    return DlibEmbedder(onnx_path, threads=2, batch_size=2)


def random_chips(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(count)]


def test_layout_matches_file(dat_path: Path) -> None:
    weights = read_resnet(dat_path)
    assert len(weights.layers) == len(resnet_layout())
    convs = [layer for layer in weights.layers if layer.spec.kind == "con"]
    assert len(convs) == 29  # first conv + 14 residual blocks x 2
    assert convs[0].weights is not None and convs[0].weights.shape == (32, 3, 7, 7)
    assert weights.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)


def test_conversion_is_deterministic(dat_path: Path, onnx_path: Path) -> None:
    assert build_embedder_onnx(dat_path) == onnx_path.read_bytes()


def test_implements_embedder_protocol(embedder: DlibEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.embedding_size == 128


def test_batches_agree_with_single_chips(embedder: DlibEmbedder) -> None:
    chips = random_chips(5)
    together = embedder.embed(chips)  # batch_size=2: batches of 2, 2, 1
    assert together.shape == (5, 128) and together.dtype == np.float32
    for index, chip in enumerate(chips):
        np.testing.assert_allclose(embedder.embed([chip])[0], together[index], atol=1e-5)
    assert np.linalg.norm(together[0] - together[1]) > 0.01  # different inputs differ


def test_takes_bgr_and_feeds_rgb(embedder: DlibEmbedder, onnx_path: Path) -> None:
    chip = random_chips(1, seed=3)[0]
    session = OnnxSession(onnx_path)
    (rgb_result,) = session.run({"chip": np.ascontiguousarray(chip[None, ..., ::-1])})
    np.testing.assert_allclose(embedder.embed([chip]), rgb_result, atol=1e-6)
    (swapped,) = session.run({"chip": chip[None]})
    assert np.abs(swapped - rgb_result).max() > 1e-3  # colour order matters to the model


def test_empty_and_bad_chips(embedder: DlibEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 128)
    with pytest.raises(InputError, match=r"chip 1: expected uint8 \(150, 150, 3\)"):
        embedder.embed([random_chips(1)[0], np.zeros((112, 112, 3), np.uint8)])
    with pytest.raises(InputError, match="float32"):
        embedder.embed([np.zeros((150, 150, 3), np.float32)])


def test_truncated_dat_names_offset(dat_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.dat"
    broken.write_bytes(dat_path.read_bytes()[:5_000_000])
    with pytest.raises(ModelError, match=r"broken\.dat: truncated tensor .* offset \d+"):
        read_resnet(broken)


def test_wrong_dat_file_is_rejected(tmp_path: Path) -> None:
    other = tmp_path / "other.dat"
    other.write_bytes(b"\x01\x01\x01\x0aloss_mmod_" + b"\x00" * 64)
    with pytest.raises(ModelError, match="loss layer: unexpected version 'loss_mmod_'"):
        read_resnet(other)


def test_onnx_session_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        OnnxSession(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="garbage.onnx"):
        OnnxSession(garbage)
    with pytest.raises(ModelError, match="not a dlib embedder"):
        model = tmp_path / "model.onnx"
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("Identity", ["x"], ["y"])],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        )
        onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx_model.ir_version = 8
        model.write_bytes(onnx_model.SerializeToString())
        DlibEmbedder(model)
