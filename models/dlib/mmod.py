"""dlib's MMOD CNN face detector (``mmod_human_face_detector.dat``) on ONNX Runtime.

The network (dnn_mmod_face_detection_ex.cpp) is fully convolutional::

    input_rgb_image_pyramid<pyramid_down<6>>
    3 x [con 5x5 stride 2 (16, 32, 32 filters) + bn_con + relu]      # "downsampler"
    3 x [con 5x5 stride 1 (45 filters) + bn_con + relu]
    con 9x9 stride 1 (1 filter)                                       # the score map

The file stores no structure, so the parser walks the known layout and checks every layer's
tag and shape against it. Batch norms are folded into the convolutions at conversion.

Around the CNN: the tiled pyramid (``models.dlib.pyramid``), score > threshold, the cell to
image mapping, dlib's NMS (intersection over the *enclosing* box > 0.338) and the optional
``min_face`` filter. Two modes:

* ``exact=True``: dlib's own arithmetic for the pyramid, the upsampling (pyramid_up) and the
  way back (rect_down); gives dlib's boxes (the oracle test: equal boxes, scores within 1e-5).
  About 38 ms on a 640x480 frame on 2 cores (dlib-bin: 1.18 s in the same run).
* ``exact=False`` (default): OpenCV does the pyramid's corner-aligned resizes (1/32-pixel
  positions), and the picture is shrunk first when ``min_face`` or ``max_side`` say the big
  levels are not needed: a face of ``min_face`` pixels then fills the 80-pixel window of the
  first level. About 26 ms on 640x480 with the whole pyramid, 13 ms with ``min_face=120``.
  Without shrinking it finds the faces the exact mode finds (IoU >= 0.8, all 300 LFW frames
  checked); shrunk, box sizes land on other pyramid steps (IoU vs exact ~0.75-0.85) and
  faces smaller than ``max(min_face, 80 * longer_side / max_side)`` pixels are not found
  (``max_side=320`` on 640x480 misses faces under ~160 px).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from gate.errors import ImageError, ModelError
from gate.types import Box, Detection, ImageBGR
from models.dlib import pyramid
from models.dlib.serialization import DlibReader
from models.onnx_session import OnnxSession

logger = logging.getLogger(__name__)

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAME = "scores"

# (filters, kernel, stride) of the convolutions, input side first; all but the last are
# followed by bn_con + relu.
_ARCHITECTURE: tuple[tuple[int, int, int], ...] = (
    (16, 5, 2),
    (32, 5, 2),
    (32, 5, 2),
    (45, 5, 1),
    (45, 5, 1),
    (45, 5, 1),
    (1, 9, 1),
)
# Window centre in the input tensor for output cell c: three 5x5 stride-2 unpadded convs.
_CELL_STRIDE = 8
_CELL_OFFSET = 14
# The smallest tiled picture that yields one output cell: 29 -> 13 -> 5 -> 1.
_MIN_TENSOR_SIDE = 29
# The biggest picture the pyramid is built from (after upsampling): the tiled float picture
# and the first activations take about 200 bytes per pixel, so 16 MP is ~3 GB. The fast mode
# shrinks bigger pictures to this; the exact mode refuses them.
MAX_PYRAMID_PIXELS = 16_000_000


@dataclass(frozen=True)
class ConvLayer:
    """A convolution with any batch norm already folded in; ``relu`` follows it if set."""

    weights: npt.NDArray[np.float32]  # (out, in, k, k), OIHW like ONNX
    bias: npt.NDArray[np.float32]  # (out,)
    stride: int
    padding: int
    relu: bool


@dataclass(frozen=True)
class MmodNetwork:
    """Everything in the .dat file that running the detector needs."""

    window_width: int
    window_height: int
    nms_iou: float
    nms_covered: float
    mean_rgb: tuple[float, float, float]
    pyramid_padding: int
    pyramid_outer_padding: int
    layers: tuple[ConvLayer, ...]


# ---------------------------------------------------------------------------------- parsing


def parse_mmod(dat_path: Path) -> MmodNetwork:
    """Read ``mmod_human_face_detector.dat``; a ``ModelError`` names the offset of any surprise."""
    reader = DlibReader.from_path(dat_path)
    reader.expect_int(1, "add_loss_layer version")
    reader.expect_string("loss_mmod_", "loss layer")
    options_version = reader.read_int()
    if options_version == 1:
        window_width, window_height = reader.read_int(), reader.read_int()
    elif 2 <= options_version <= 4:
        windows = reader.read_count("detector window")
        if windows != 1:
            raise reader.error(f"expected one detector window, found {windows}")
        window_version = reader.read_int()
        window_width, window_height = reader.read_int(), reader.read_int()
        if window_version == 2:
            reader.read_string()
    else:
        raise reader.error(f"unknown mmod_options version {options_version}")
    reader.read_floats(3)  # loss_per_false_alarm, loss_per_missed_target, truth_match_iou
    nms_iou, nms_covered = (float(v) for v in reader.read_floats(2))
    reader.read_floats(2)  # overlaps_ignore
    if options_version >= 3:
        reader.read_bytes(1)  # assume_image_pyramid, one raw byte
    if options_version >= 4 and reader.read_bool():
        raise reader.error("bounding-box regression is not supported")
    if options_version >= 4:
        reader.read_float()

    # One add_layer version per layer, outermost (output) first: conv,(relu,bn,conv)*6.
    layer_count = 3 * (len(_ARCHITECTURE) - 1) + 1
    versions = [reader.read_int() for _ in range(layer_count)]
    if any(v not in (1, 2) for v in versions[:-1]) or versions[-1] not in (2, 3):
        raise reader.error(f"unexpected add_layer versions {versions}")

    mean_rgb, padding, outer_padding = _read_input_layer(reader)

    layers: list[ConvLayer] = []
    # Layer contents come innermost (input side) first.
    kinds = ["con"] + ["bn", "relu", "con"] * (len(_ARCHITECTURE) - 1)
    pending: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], int, int] | None = None
    conv_index = 0
    for position, kind in enumerate(kinds):
        version = versions[layer_count - 1 - position]
        if kind == "con":
            filters, kernel, stride = _ARCHITECTURE[conv_index]
            in_channels = 3 if conv_index == 0 else _ARCHITECTURE[conv_index - 1][0]
            weights, bias, padding_read = _read_con(reader, filters, in_channels, kernel, stride)
            pending = (weights, bias, stride, padding_read)
            conv_index += 1
        elif kind == "bn":
            if pending is None:
                raise reader.error("batch norm before any convolution")
            start = reader.offset
            scale, shift = _read_bn_con(reader, len(pending[1]))
            weights, bias, stride, padding_read = pending
            with np.errstate(all="ignore"):  # a corrupt file is reported just below
                folded_w = (weights * scale[:, None, None, None]).astype(np.float32)
                folded_b = (bias * scale + shift).astype(np.float32)
            if not (np.isfinite(folded_w).all() and np.isfinite(folded_b).all()):
                raise reader.error(f"non-finite weights after conv layer {conv_index}", start)
            pending = (folded_w, folded_b, stride, padding_read)
        else:
            _read_relu(reader)
            if pending is None:
                raise reader.error("relu before any convolution")
            layers.append(ConvLayer(pending[0], pending[1], pending[2], pending[3], relu=True))
            pending = None
        _skip_layer_state(reader, version, is_input_layer=position == 0)
    if pending is None:
        raise reader.error("the network does not end with a convolution")
    layers.append(ConvLayer(pending[0], pending[1], pending[2], pending[3], relu=False))
    reader.expect_end()
    for number, layer in enumerate(layers):
        if not (np.isfinite(layer.weights).all() and np.isfinite(layer.bias).all()):
            raise ModelError(f"{reader.source}: conv layer {number} has non-finite weights")
    return MmodNetwork(
        window_width=window_width,
        window_height=window_height,
        nms_iou=nms_iou,
        nms_covered=nms_covered,
        mean_rgb=mean_rgb,
        pyramid_padding=padding,
        pyramid_outer_padding=outer_padding,
        layers=tuple(layers),
    )


def _read_input_layer(reader: DlibReader) -> tuple[tuple[float, float, float], int, int]:
    start = reader.offset
    tag = reader.read_string()
    if tag not in ("input_rgb_image_pyramid", "input_rgb_image_pyramid2"):
        raise reader.error(f"expected the input_rgb_image_pyramid layer, found {tag!r}", start)
    red, green, blue = (float(v) for v in reader.read_floats(3))
    if tag == "input_rgb_image_pyramid2":
        return (red, green, blue), reader.read_int(), reader.read_int()
    return (red, green, blue), 10, 11  # dlib's defaults before the padding was stored


def _read_con(
    reader: DlibReader, filters: int, in_channels: int, kernel: int, stride: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], int]:
    start = reader.offset
    tag = reader.read_string()
    if tag not in ("con_4", "con_5", "con_6"):
        raise reader.error(f"expected a con_ layer, found {tag!r}", start)
    params = reader.read_tensor().reshape(-1)
    num_filters, rows, cols, stride_y, stride_x, pad_y, pad_x = reader.read_ints(7)
    expected_pad = kernel // 2 if stride == 1 else 0
    found = (num_filters, rows, cols, stride_y, stride_x, pad_y, pad_x)
    wanted = (filters, kernel, kernel, stride, stride, expected_pad, expected_pad)
    if found != wanted:
        raise reader.error(f"con_ layer (filters, k, k, stride, pad) {found} != {wanted}", start)
    filter_shape = reader.read_alias_tensor()
    bias_shape = reader.read_alias_tensor()
    reader.read_floats(4)  # learning-rate and weight-decay multipliers
    use_bias = True
    if tag in ("con_5", "con_6"):
        use_bias = reader.read_bool()
    if tag == "con_6" and reader.read_bool():
        raise reader.error("fused relu in con_ is not supported", start)
    n_weights = filters * in_channels * kernel * kernel
    if filter_shape != (filters, in_channels, kernel, kernel) or params.size < n_weights:
        raise reader.error(f"con_ filters {filter_shape} do not fit the network", start)
    weights = params[:n_weights].reshape(filters, in_channels, kernel, kernel)
    if use_bias:
        if bias_shape[1] != filters or params.size != n_weights + filters:
            raise reader.error(f"con_ bias {bias_shape} does not fit {filters} filters", start)
        bias = params[n_weights:].copy()
    else:
        bias = np.zeros(filters, dtype=np.float32)
    return weights.astype(np.float32), bias.astype(np.float32), expected_pad


def _read_bn_con(
    reader: DlibReader, channels: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """bn_con -> per-channel (scale, shift): g = gamma / sqrt(var + eps), b = beta - g * mean."""
    start = reader.offset
    reader.expect_string("bn_con2", "batch norm layer")
    params = reader.read_tensor().reshape(-1)
    reader.read_alias_tensor()  # gamma
    reader.read_alias_tensor()  # beta
    reader.read_tensor()  # means of the last training batch
    reader.read_tensor()  # invstds of the last training batch
    running_means = reader.read_tensor().reshape(-1)
    running_vars = reader.read_tensor().reshape(-1)
    reader.read_int()  # num_updates
    reader.read_int()  # running_stats_window_size
    reader.read_floats(4)  # multipliers
    eps = np.float32(reader.read_float())
    if params.size != 2 * channels or running_means.size != channels != running_vars.size:
        raise reader.error(f"bn_con sizes do not match {channels} channels", start)
    gamma, beta = params[:channels], params[channels:]
    # Float32 arithmetic, as dlib's affine_ constructor from bn_ does.
    with np.errstate(all="ignore"):  # the caller rejects non-finite results
        scale = (gamma / np.sqrt(running_vars + eps)).astype(np.float32)
        shift = (beta - scale * running_means).astype(np.float32)
    return scale, shift


def _read_relu(reader: DlibReader) -> None:
    start = reader.offset
    tag = reader.read_string()
    if tag == "relu_2":
        if reader.read_bool():
            raise reader.error("disabled relu is not supported", start)
    elif tag != "relu_":
        raise reader.error(f"expected a relu_ layer, found {tag!r}", start)


def _skip_layer_state(reader: DlibReader, version: int, is_input_layer: bool) -> None:
    """The training state after each layer's details: 3 bools and 2-3 (empty) tensors."""
    for _ in range(3):
        reader.read_bool()
    reader.read_tensor()  # x_grad
    reader.read_tensor()  # cached_output
    if is_input_layer:
        reader.read_tensor()  # grad_final
        if version >= 3:
            reader.read_int()  # sample_expansion_factor
    elif version == 2:
        reader.read_tensor()  # params_grad


# ---------------------------------------------------------------------------------- ONNX


def _metadata(network: MmodNetwork) -> dict[str, str]:
    return {
        "egate.kind": "dlib-mmod",
        "window": f"{network.window_width}x{network.window_height}",
        "nms_iou": repr(network.nms_iou),
        "nms_covered": repr(network.nms_covered),
        "mean_rgb": ",".join(repr(v) for v in network.mean_rgb),
        "pyramid_padding": str(network.pyramid_padding),
        "pyramid_outer_padding": str(network.pyramid_outer_padding),
    }


def network_to_onnx(network: MmodNetwork) -> bytes:
    """The CNN as an ONNX model: (1, 3, H, W) normalised tiled picture -> (1, 1, h, w) scores.

    Only values from the file go in (no timestamps, no random names), so the bytes are the
    same on every machine.
    """
    import onnx
    from onnx import TensorProto, helper

    nodes = []
    initializers = []
    current = INPUT_NAME
    for index, layer in enumerate(network.layers):
        last = index == len(network.layers) - 1
        conv_out = OUTPUT_NAME if last and not layer.relu else f"conv{index}"
        if layer.weights.shape[0] == 1 and layer.stride == 1 and layer.weights.shape[2] > 1:
            conv_nodes, conv_inits = _single_filter_conv(index, layer, current, conv_out)
        else:
            conv_nodes, conv_inits = _conv(index, layer, current, conv_out)
        nodes += conv_nodes
        initializers += conv_inits
        current = conv_out
        if layer.relu:
            relu_out = OUTPUT_NAME if last else f"relu{index}"
            nodes.append(helper.make_node("Relu", [current], [relu_out], name=f"relu{index}"))
            current = relu_out
    graph = helper.make_graph(
        nodes,
        "dlib_mmod_face_detector",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 1, "h", "w"])],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="egate",
        producer_version="1",
    )
    model.ir_version = 8
    # What the code around the CNN needs travels inside the model file.
    helper.set_model_props(model, _metadata(network))
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString(deterministic=True))


def _conv(index: int, layer: ConvLayer, source: str, target: str) -> tuple[list[Any], list[Any]]:
    from onnx import helper, numpy_helper

    w_name, b_name = f"conv{index}.weight", f"conv{index}.bias"
    kernel = int(layer.weights.shape[2])
    node = helper.make_node(
        "Conv",
        [source, w_name, b_name],
        [target],
        name=f"conv{index}",
        kernel_shape=[kernel, kernel],
        strides=[layer.stride, layer.stride],
        pads=[layer.padding] * 4,
    )
    inits = [
        numpy_helper.from_array(layer.weights, w_name),
        numpy_helper.from_array(layer.bias, b_name),
    ]
    return [node], inits


def _single_filter_conv(
    index: int, layer: ConvLayer, source: str, target: str
) -> tuple[list[Any], list[Any]]:
    """A k x k convolution with one output filter as a (k x 1) convolution into k channels
    (channel j: column j of the kernel) followed by a (1 x k) one-hot convolution that adds the
    k columns back together. The same sums in another order (scores move by ~1e-6), but
    onnxruntime's blocked kernels handle k output channels far better than one: the score
    layer runs about twice as fast."""
    from onnx import helper, numpy_helper

    kernel = int(layer.weights.shape[2])
    pad = layer.padding
    columns = np.ascontiguousarray(layer.weights[0].transpose(2, 0, 1)[:, :, :, None])
    adder = np.zeros((1, kernel, 1, kernel), dtype=np.float32)
    adder[0, np.arange(kernel), 0, np.arange(kernel)] = 1.0
    names = (f"conv{index}.columns", f"conv{index}.adder", f"conv{index}.bias")
    middle = f"conv{index}.partial"
    nodes = [
        helper.make_node(
            "Conv",
            [source, names[0]],
            [middle],
            name=f"conv{index}.columns",
            kernel_shape=[kernel, 1],
            pads=[pad, 0, pad, 0],
        ),
        helper.make_node(
            "Conv",
            [middle, names[1], names[2]],
            [target],
            name=f"conv{index}.adder",
            kernel_shape=[1, kernel],
            pads=[0, pad, 0, pad],
        ),
    ]
    inits = [
        numpy_helper.from_array(columns.astype(np.float32), names[0]),
        numpy_helper.from_array(adder, names[1]),
        numpy_helper.from_array(layer.bias, names[2]),
    ]
    return nodes, inits


def build_mmod_onnx(dat_path: Path) -> bytes:
    """Convert ``mmod_human_face_detector.dat`` into ONNX bytes (see ``network_to_onnx``)."""
    return network_to_onnx(parse_mmod(Path(dat_path)))


# ---------------------------------------------------------------------------------- detector


def nms_dlib(
    rects: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    iou: float,
    covered: float = 1.0,
) -> list[int]:
    """Greedy NMS on integer inclusive rects (n, 4: l, t, r, b), best score first.

    dlib's test_box_overlap: two boxes clash when intersection / area of the box *enclosing*
    both > ``iou``, or the intersection covers more than ``covered`` of either box.
    Returns indices into ``rects`` of the kept boxes, best first.
    """
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    areas = (rects[:, 2] - rects[:, 0] + 1) * (rects[:, 3] - rects[:, 1] + 1)
    for index in order:
        if kept:
            k = np.asarray(kept)
            r, others = rects[index], rects[k]
            iw = np.minimum(others[:, 2], r[2]) - np.maximum(others[:, 0], r[0]) + 1
            ih = np.minimum(others[:, 3], r[3]) - np.maximum(others[:, 1], r[1]) + 1
            inner = np.where((iw > 0) & (ih > 0), iw * ih, 0).astype(np.float64)
            ow = np.maximum(others[:, 2], r[2]) - np.minimum(others[:, 0], r[0]) + 1
            oh = np.maximum(others[:, 3], r[3]) - np.minimum(others[:, 1], r[1]) + 1
            clash = (inner > 0) & (
                (inner / (ow * oh) > iou)
                | (inner / areas[k] > covered)
                | (inner / areas[index] > covered)
            )
            if clash.any():
                continue
        kept.append(int(index))
    return kept


class MmodDetector:
    """dlib's CNN face detector: ``detect(image_bgr, min_face)`` -> detections, best first.

    ``threads``: ONNX Runtime intra-op threads (0 = its default). ``upsample``: double the
    picture this many times first (finds faces down to about 80 / 2**n pixels).
    ``threshold``: keep windows scoring above it (dlib: 0). ``exact``: dlib's arithmetic
    throughout, no shrinking (reproduces dlib's boxes). ``max_side``: in the fast mode, shrink
    the picture so its longer side is at most this before building the pyramid.

    Boxes are in the caller's picture, inclusive-exclusive: dlib's rectangle (l, t, r, b)
    is ``Box(l, t, r + 1, b + 1)``; like dlib's, a box may reach past the picture's edge.
    ``min_face`` drops boxes narrower than it (and, in the fast mode, lets the detector skip
    the levels that only find smaller faces).
    """

    def __init__(
        self,
        onnx_path: Path,
        threads: int = 0,
        upsample: int = 0,
        *,
        threshold: float = 0.0,
        exact: bool = False,
        max_side: int | None = None,
    ) -> None:
        if upsample < 0:
            raise ModelError(f"upsample must be >= 0, got {upsample}")
        if max_side is not None and max_side < 16:
            raise ModelError(f"max_side must be at least 16 pixels, got {max_side}")
        self._session = OnnxSession(Path(onnx_path), threads=threads)
        meta = _read_metadata(Path(onnx_path))
        try:
            if meta["egate.kind"] != "dlib-mmod":
                raise KeyError("egate.kind")
            width, height = (int(v) for v in meta["window"].split("x"))
            self._nms_iou = float(meta["nms_iou"])
            self._nms_covered = float(meta["nms_covered"])
            mean = tuple(float(v) for v in meta["mean_rgb"].split(","))
            self._padding = int(meta["pyramid_padding"])
            self._outer_padding = int(meta["pyramid_outer_padding"])
        except (KeyError, ValueError) as exc:
            raise ModelError(
                f"{onnx_path} is not an egate MMOD detector (metadata {exc} missing or bad)"
            ) from exc
        if len(mean) != 3:
            raise ModelError(f"{onnx_path}: mean_rgb needs 3 values, found {len(mean)}")
        self._mean_rgb = (mean[0], mean[1], mean[2])
        self._window = (width, height)
        self.upsample = upsample
        self.threshold = threshold
        self.exact = exact
        self.max_side = max_side

    def detect(self, image: ImageBGR, min_face: int = 0) -> list[Detection]:
        picture = _as_bgr(image)
        if self.exact:
            pixels = picture.shape[0] * picture.shape[1] * 4**self.upsample
            if pixels > MAX_PYRAMID_PIXELS:
                raise ImageError(
                    f"picture of {picture.shape[1]}x{picture.shape[0]} (upsample "
                    f"{self.upsample}) is over the exact detector's "
                    f"{MAX_PYRAMID_PIXELS / 1e6:.0f}-megapixel limit"
                )
            # dlib's own pyramid_up and rect_down around the same net(image) call.
            scaled = picture
            for _ in range(self.upsample):
                scaled = pyramid.upsample_like_dlib(scaled)
            rects, scores = self.detect_raw(scaled)
            rects = pyramid.rects_down_like_dlib(rects, self.upsample)
            sx = sy = 1.0
        else:
            scale = self._scale_for(picture.shape[0], picture.shape[1], min_face)
            scaled = picture
            if scale != 1.0:
                new_w = max(1, round(picture.shape[1] * scale))
                new_h = max(1, round(picture.shape[0] * scale))
                interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
                scaled = np.asarray(
                    cv2.resize(picture, (new_w, new_h), interpolation=interp), dtype=np.uint8
                )
            rects, scores = self.detect_raw(scaled)
            sx = scaled.shape[1] / picture.shape[1]
            sy = scaled.shape[0] / picture.shape[0]
        # Box sides are whole pixels of the shrunk picture: allow one of them in the min_face
        # test, or a face that exactly fills the first level's window would miss by rounding.
        slack = max(0.0, 1.0 / min(sx, sy) - 1.0)
        found: list[Detection] = []
        for (left, top, right, bottom), score in zip(rects.tolist(), scores.tolist(), strict=True):
            # Inclusive dlib corners -> inclusive-exclusive edges, then undo the shrink.
            box = Box(left / sx, top / sy, (right + 1) / sx, (bottom + 1) / sy)
            if min(box.width, box.height) + slack >= min_face:
                found.append(Detection(box=box, score=float(score)))
        return found

    def _scale_for(self, height: int, width: int, min_face: int) -> float:
        scale = 1.0
        window = min(self._window)
        if min_face > window:
            # A face of min_face pixels then fills the first level's window.
            scale = window / min_face
        if self.max_side is not None and max(height, width) * scale > self.max_side:
            scale = self.max_side / max(height, width)
        scale *= 2.0**self.upsample
        if height * width * scale * scale > MAX_PYRAMID_PIXELS:
            scale = (MAX_PYRAMID_PIXELS / (height * width)) ** 0.5
            logger.debug("picture %dx%d shrunk by %.3f for the detector", width, height, scale)
        return scale

    def detect_raw(self, image: ImageBGR) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """dlib's net(image) on this exact picture: inclusive integer rects (n, 4) and scores,
        after NMS, best first."""
        height, width = image.shape[:2]
        layout = pyramid.tiled_layout(height, width, self._padding, self._outer_padding)
        if not layout.tiles or min(layout.height, layout.width) < _MIN_TENSOR_SIDE:
            return np.zeros((0, 4), dtype=np.int64), np.zeros(0, dtype=np.float32)
        planes = pyramid.normalise(image, self._mean_rgb)
        fill = pyramid.fill_exact if self.exact else pyramid.fill_fast
        tiled = fill(planes, layout)
        score_map = self._session.run({INPUT_NAME: tiled[None]}, [OUTPUT_NAME])[0][0, 0]
        rows, cols = np.nonzero(score_map > self.threshold)
        scores = score_map[rows, cols].astype(np.float32)
        half_w = (self._window[0] - 1) / 2
        half_h = (self._window[1] - 1) / 2
        cx = cols * _CELL_STRIDE + _CELL_OFFSET
        cy = rows * _CELL_STRIDE + _CELL_OFFSET
        windows = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
        in_image = pyramid.tensor_rects_to_image(layout, windows.astype(np.float64))
        rects = pyramid.round_half_away(in_image)
        keep = nms_dlib(rects, scores, self._nms_iou, self._nms_covered)
        return rects[keep], scores[keep]


def _read_metadata(onnx_path: Path) -> dict[str, str]:
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors have no common base
        raise ModelError(f"cannot read ONNX model {onnx_path}: {exc}") from exc
    return {prop.key: prop.value for prop in model.metadata_props}


def _as_bgr(image: ImageBGR) -> ImageBGR:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageError("the detector needs a uint8 numpy image")
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ImageError(f"the detector needs an (H, W, 3) BGR image, got shape {image.shape}")
    if image.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2))
    return np.ascontiguousarray(image)  # OpenCV refuses views with negative strides
