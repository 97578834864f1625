"""Reading dlib's ``mmod_human_face_detector.dat`` into folded convolution layers.

The network (dnn_mmod_face_detection_ex.cpp) is fully convolutional::

    input_rgb_image_pyramid<pyramid_down<6>>
    3 x [con 5x5 stride 2 (16, 32, 32 filters) + bn_con + relu]      # "downsampler"
    3 x [con 5x5 stride 1 (45 filters) + bn_con + relu]
    con 9x9 stride 1 (1 filter)                                       # the score map

The file stores no structure, so the parser walks the known layout and checks every layer's
tag and shape against it. Batch norms are folded into the convolutions here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gate.errors import ModelError
from models.dlib.serialization import DlibReader

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
