"""The MMOD detector's CNN (``models.dlib.mmod_parse.MmodNetwork``) written as ONNX bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.dlib.mmod_parse import ConvLayer, MmodNetwork, parse_mmod

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAME = "scores"


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
