"""dlib's ResNet face embedder (``dlib_face_recognition_resnet_model_v1.dat``) as ONNX.

The ``.dat`` file holds only weights: the network's shape comes from dlib's C++ template
definition (``anet_type`` in dnn_face_recognition_ex.cpp), written down here as a list of
layers from the input side outwards (``resnet_layout``). The file nests each layer around its
input: all layers' version headers come first (outermost first), then each layer's contents
from the input side outwards.

The ONNX graph takes ``chip`` uint8 (N, 150, 150, 3) RGB and returns ``embedding`` float32
(N, 128), doing dlib's input normalisation ((pixel - mean) / 256, planar) inside the graph.
Each ``affine`` (per-channel scale/shift) is folded into the convolution before it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gate.errors import InputError, ModelError
from gate.types import FloatArray, ImageBGR
from models.dlib.serialization import DlibReader
from models.onnx_graph import GraphBuilder
from models.onnx_session import OnnxSession

log = logging.getLogger(__name__)

CHIP_SIZE = 150
EMBEDDING_SIZE = 128
OPSET = 17
IR_VERSION = 8

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the C++ definition. ``tag`` is the tag/skip/add_prev id."""

    kind: str  # con, affine, relu, max_pool, avg_pool, avg_pool_all, tag, skip, add_prev, fc
    filters: int = 0
    kernel: int = 0
    stride: int = 1
    tag: int = 0


@dataclass
class Layer:
    """A layer with the weights read from the file (only computational layers have any)."""

    spec: LayerSpec
    weights: F32 | None = None  # con: OIHW; fc: (in, out)
    bias: F32 | None = None  # con: (O,); affine: beta
    gamma: F32 | None = None  # affine scale
    padding: tuple[int, int] = (0, 0)
    window: tuple[int, int] = (0, 0)
    extras: dict[str, float] = field(default_factory=dict)


def _block(filters: int, stride: int) -> list[LayerSpec]:
    # block<N,BN,stride> = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
    return [
        LayerSpec("con", filters, 3, stride),
        LayerSpec("affine"),
        LayerSpec("relu"),
        LayerSpec("con", filters, 3, 1),
        LayerSpec("affine"),
    ]


def _ares(filters: int) -> list[LayerSpec]:
    # relu<add_prev1<block<N,BN,1,tag1<SUBNET>>>>
    return [
        LayerSpec("tag", tag=1),
        *_block(filters, 1),
        LayerSpec("add_prev", tag=1),
        LayerSpec("relu"),
    ]


def _ares_down(filters: int) -> list[LayerSpec]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,BN,2,tag1<SUBNET>>>>>>>
    return [
        LayerSpec("tag", tag=1),
        *_block(filters, 2),
        LayerSpec("tag", tag=2),
        LayerSpec("skip", tag=1),
        LayerSpec("avg_pool", kernel=2, stride=2),
        LayerSpec("add_prev", tag=2),
        LayerSpec("relu"),
    ]


def resnet_layout() -> list[LayerSpec]:
    """anet_type from the input side outwards (input layer and loss layer excluded)."""
    layers = [
        LayerSpec("con", 32, 7, 2),
        LayerSpec("affine"),
        LayerSpec("relu"),
        LayerSpec("max_pool", kernel=3, stride=2),
    ]
    layers += _ares(32) * 3  # alevel4
    layers += _ares_down(64) + _ares(64) * 3  # alevel3
    layers += _ares_down(128) + _ares(128) * 2  # alevel2
    layers += _ares_down(256) + _ares(256) * 2  # alevel1
    layers += _ares_down(256)  # alevel0
    layers += [LayerSpec("avg_pool_all"), LayerSpec("fc", filters=EMBEDDING_SIZE)]
    return layers


# ---------------------------------------------------------------------------------- parsing
@dataclass
class ResNetWeights:
    mean_rgb: tuple[float, float, float]
    layers: list[Layer]


def _read_string_in(reader: DlibReader, allowed: tuple[str, ...], what: str) -> str:
    start = reader.offset
    value = reader.read_string(max_length=256)
    if value not in allowed:
        raise reader.error(f"{what}: unexpected version {value!r} (known: {allowed})", start)
    return value


def _check(reader: DlibReader, start: int, what: str, found: object, expected: object) -> None:
    if found != expected:
        raise reader.error(f"{what}: expected {expected}, found {found}", start)


def _read_con(reader: DlibReader, spec: LayerSpec) -> Layer:
    start = reader.offset
    version = _read_string_in(reader, ("con_4", "con_5", "con_6"), "con layer")
    params = reader.read_tensor().ravel()
    filters = reader.read_int()
    rows, cols, stride_y, stride_x, pad_y, pad_x = reader.read_ints(6)
    shape = reader.read_alias_tensor()
    reader.read_alias_tensor()  # biases: (1, filters) right after the filters in params
    reader.read_floats(4)  # learning-rate and weight-decay multipliers
    use_bias = reader.read_bool() if version in ("con_5", "con_6") else True
    if version == "con_6" and reader.read_bool():
        raise reader.error("con layer with fused relu is not supported", start)
    _check(reader, start, "con filters", filters, spec.filters)
    _check(reader, start, "con kernel", (rows, cols), (spec.kernel, spec.kernel))
    _check(reader, start, "con stride", (stride_y, stride_x), (spec.stride, spec.stride))
    count = shape[0] * shape[1] * shape[2] * shape[3]
    expected_params = count + (filters if use_bias else 0)
    _check(reader, start, "con params size", params.size, expected_params)
    weights = params[:count].reshape(shape)
    bias = params[count:] if use_bias else np.zeros(filters, np.float32)
    return Layer(spec, weights=weights, bias=bias, padding=(pad_y, pad_x))


def _read_affine(reader: DlibReader, spec: LayerSpec) -> Layer:
    start = reader.offset
    version = _read_string_in(reader, ("affine_", "affine_2"), "affine layer")
    params = reader.read_tensor().ravel()
    gamma_shape = reader.read_alias_tensor()
    reader.read_alias_tensor()  # beta, same shape, right after gamma
    reader.read_int()  # mode: conv (per channel)
    if version == "affine_2" and reader.read_bool():
        raise reader.error("disabled affine layer is not supported", start)
    channels = gamma_shape[1]
    _check(reader, start, "affine params size", params.size, 2 * channels)
    return Layer(spec, gamma=params[:channels], bias=params[channels:])


def _read_relu(reader: DlibReader, spec: LayerSpec) -> Layer:
    start = reader.offset
    version = _read_string_in(reader, ("relu_", "relu_2"), "relu layer")
    if version == "relu_2" and reader.read_bool():
        raise reader.error("disabled relu layer is not supported", start)
    return Layer(spec)


def _read_pool(reader: DlibReader, spec: LayerSpec) -> Layer:
    start = reader.offset
    name = "max_pool_2" if spec.kind == "max_pool" else "avg_pool_2"
    _read_string_in(reader, (name,), f"{spec.kind} layer")
    rows, cols, stride_y, stride_x, pad_y, pad_x = reader.read_ints(6)
    if spec.kind == "avg_pool_all":
        _check(reader, start, "global pool window", (rows, cols), (0, 0))
    else:
        _check(reader, start, "pool window", (rows, cols), (spec.kernel, spec.kernel))
        _check(reader, start, "pool stride", (stride_y, stride_x), (spec.stride, spec.stride))
    return Layer(spec, window=(rows, cols), padding=(pad_y, pad_x))


def _read_fc(reader: DlibReader, spec: LayerSpec) -> Layer:
    start = reader.offset
    version = _read_string_in(reader, ("fc_2", "fc_3"), "fc layer")
    outputs = reader.read_int()
    inputs = reader.read_int()
    params = reader.read_tensor().ravel()
    reader.read_alias_tensor()
    reader.read_alias_tensor()
    bias_mode = reader.read_int()
    reader.read_floats(4)
    if version == "fc_3":
        reader.read_bool()
    _check(reader, start, "fc outputs", outputs, spec.filters)
    _check(reader, start, "fc bias mode (1 = no bias)", bias_mode, 1)
    _check(reader, start, "fc params size", params.size, inputs * outputs)
    return Layer(spec, weights=params.reshape(inputs, outputs))


_READERS = {
    "con": _read_con,
    "affine": _read_affine,
    "relu": _read_relu,
    "max_pool": _read_pool,
    "avg_pool": _read_pool,
    "avg_pool_all": _read_pool,
    "fc": _read_fc,
}


def _read_add_prev(reader: DlibReader, spec: LayerSpec) -> Layer:
    _read_string_in(reader, ("add_prev_",), "add_prev layer")
    return Layer(spec)


def read_resnet(path: Path) -> ResNetWeights:
    """Parse the embedder's .dat file into per-layer weights (ModelError on any mismatch)."""
    reader = DlibReader.from_path(path)
    layout = resnet_layout()
    reader.expect_int(1, "loss layer version")
    loss = _read_string_in(reader, ("loss_metric_", "loss_metric_2"), "loss layer")
    if loss == "loss_metric_2":
        reader.read_floats(2)  # margin and distance threshold: training-only
    # Headers, outermost first. The innermost computational layer wraps the input layer and
    # has its own (newer) version numbering.
    versions: list[int] = []
    for index, spec in enumerate(reversed(layout)):
        start = reader.offset
        version = reader.read_int()
        innermost = index == len(layout) - 1
        allowed = (1,) if spec.kind in ("tag", "skip") else (2, 3) if innermost else (1, 2)
        if version not in allowed:
            raise reader.error(f"{spec.kind} layer header: version {version}", start)
        versions.append(version)
    versions.reverse()
    _read_string_in(reader, ("input_rgb_image_sized", "input_rgb_image"), "input layer")
    mean = reader.read_floats(3)
    # The sized input layer also stores its size: the chip must be 150x150.
    rows, cols = reader.read_ints(2)
    _check(reader, reader.offset, "input size", (rows, cols), (CHIP_SIZE, CHIP_SIZE))
    layers: list[Layer] = []
    for index, (spec, version) in enumerate(zip(layout, versions, strict=True)):
        if spec.kind in ("tag", "skip"):
            layers.append(Layer(spec))
            continue
        read = _read_add_prev if spec.kind == "add_prev" else _READERS[spec.kind]
        layers.append(read(reader, spec))
        for _ in range(3):  # setup-called, gradient-stale, output-disabled flags
            reader.read_bool()
        reader.read_tensor()  # x_grad
        reader.read_tensor()  # cached output
        if index == 0:
            reader.read_tensor()  # grad_final
            if version >= 3:
                reader.read_int()  # sample expansion factor
        elif version == 2:
            reader.read_tensor()  # params_grad
    reader.expect_end()
    return ResNetWeights(mean_rgb=(float(mean[0]), float(mean[1]), float(mean[2])), layers=layers)


# ---------------------------------------------------------------------------- ONNX emission
def _weights(array: F32 | None, layer: Layer, what: str) -> F32:
    if array is None:
        raise ModelError(f"dlib embedder: {layer.spec.kind} layer has no {what}")
    return array


def _fold_affines(layers: list[Layer]) -> list[Layer]:
    """Merge each affine into the convolution it follows (w*g, b*g + beta), in float64."""
    folded: list[Layer] = []
    for layer in layers:
        if layer.spec.kind != "affine":
            folded.append(layer)
            continue
        conv = folded[-1] if folded else None
        if conv is None or conv.spec.kind != "con":
            raise ModelError("dlib embedder: affine layer does not follow a convolution")
        gamma = _weights(layer.gamma, layer, "scale").astype(np.float64)
        beta = _weights(layer.bias, layer, "shift").astype(np.float64)
        weights = _weights(conv.weights, conv, "filters").astype(np.float64)
        weights = weights * gamma[:, None, None, None]
        bias = _weights(conv.bias, conv, "bias").astype(np.float64) * gamma + beta
        folded[-1] = Layer(
            conv.spec,
            weights=weights.astype(np.float32),
            bias=bias.astype(np.float32),
            padding=conv.padding,
        )
    return folded


def build_embedder_onnx(dat_path: Path) -> bytes:
    """Convert the dlib embedder .dat file to a serialized ONNX model (deterministic bytes)."""
    weights = read_resnet(dat_path)
    graph = GraphBuilder()
    x = graph.input_uint8("chip", ["N", CHIP_SIZE, CHIP_SIZE, 3])
    x = graph.node("Cast", [x], to=1)
    mean = np.asarray(weights.mean_rgb, dtype=np.float32)
    x = graph.node("Sub", [x, graph.const(mean, "input_mean")])
    x = graph.node("Mul", [x, graph.const(np.float32(1.0 / 256.0), "input_scale")])
    x = graph.node("Transpose", [x], perm=[0, 3, 1, 2])
    shape = (3, CHIP_SIZE, CHIP_SIZE)  # (C, H, W) tracked to size the zero-padded adds
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}
    for layer in _fold_affines(weights.layers):
        kind = layer.spec.kind
        if kind == "con":
            filters = _weights(layer.weights, layer, "filters")
            bias = _weights(layer.bias, layer, "bias")
            x, shape = graph.conv(x, shape, filters, bias, layer.spec.stride, layer.padding)
        elif kind == "relu":
            x = graph.node("Relu", [x])
        elif kind in ("max_pool", "avg_pool"):
            x, shape = graph.pool(
                x,
                shape,
                "MaxPool" if kind == "max_pool" else "AveragePool",
                layer.window,
                layer.spec.stride,
                layer.padding,
            )
        elif kind == "tag":
            tags[layer.spec.tag] = (x, shape)
        elif kind == "skip":
            x, shape = tags[layer.spec.tag]
        elif kind == "add_prev":
            other, other_shape = tags[layer.spec.tag]
            x, shape = graph.add_zero_padded(x, shape, other, other_shape)
        elif kind == "avg_pool_all":
            x = graph.node("GlobalAveragePool", [x])
            x = graph.node("Flatten", [x], axis=1)
            shape = (shape[0], 1, 1)
        elif kind == "fc":
            fc_weights = _weights(layer.weights, layer, "weights")
            x = graph.node("MatMul", [x, graph.const(fc_weights, "fc_weights")])
        else:  # pragma: no cover - the layout only holds the kinds above
            raise ModelError(f"dlib embedder: unhandled layer kind {kind}")
    graph.output(x, "embedding", ["N", EMBEDDING_SIZE])
    return graph.serialize("dlib_face_recognition_resnet_model_v1", OPSET, IR_VERSION)


# --------------------------------------------------------------------------------- runtime
class DlibEmbedder:
    """dlib's 128-D face descriptor through onnxruntime (implements ``Embedder``).

    Chips are 150x150 BGR (as from ``models.dlib.align.dlib_chip``); descriptors are not
    L2-normalised and dlib compares them by Euclidean distance (same person below 0.6).
    """

    embedding_size = EMBEDDING_SIZE
    chip_size = CHIP_SIZE

    def __init__(self, onnx_path: Path, threads: int = 0, batch_size: int = 8) -> None:
        if batch_size < 1:
            raise ModelError(f"batch_size must be >= 1, got {batch_size}")
        self._session = OnnxSession(Path(onnx_path), threads=threads)
        if self._session.input_names != ["chip"]:
            raise ModelError(
                f"{onnx_path}: not a dlib embedder graph (inputs {self._session.input_names})"
            )
        self.batch_size = batch_size

    def embed(self, chips: Sequence[ImageBGR]) -> FloatArray:
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        for index, chip in enumerate(chips):
            if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3) or chip.dtype != np.uint8:
                raise InputError(
                    f"chip {index}: expected uint8 ({CHIP_SIZE}, {CHIP_SIZE}, 3), "
                    f"got {chip.dtype} {chip.shape}"
                )
        out = np.empty((len(chips), EMBEDDING_SIZE), dtype=np.float32)
        for start in range(0, len(chips), self.batch_size):
            batch = np.stack(chips[start : start + self.batch_size])[..., ::-1]  # BGR -> RGB
            (result,) = self._session.run({"chip": np.ascontiguousarray(batch)})
            out[start : start + len(batch)] = result
        return out
