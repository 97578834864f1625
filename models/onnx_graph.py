"""A tiny ONNX graph writer: sequential node names and deterministic bytes.

Used by the model converters (``models.dlib.embedder``); tensors are tracked as one sample's
(channels, rows, cols) shape so each step can compute the next one's size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gate.errors import ModelError

F32 = npt.NDArray[np.float32]
Shape = tuple[int, int, int]  # (channels, rows, cols) of one sample


class GraphBuilder:
    """A tiny ONNX graph writer with fixed, sequential names (so output bytes are stable)."""

    def __init__(self) -> None:
        self._nodes: list[Any] = []
        self._inits: list[Any] = []
        self._inputs: list[Any] = []
        self._outputs: list[Any] = []
        self._counter = 0

    def _name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter:03d}"

    def input_uint8(self, name: str, shape: list[int | str]) -> str:
        from onnx import TensorProto, helper

        self._inputs.append(helper.make_tensor_value_info(name, TensorProto.UINT8, shape))
        return name

    def output(self, value: str, name: str, shape: list[int | str]) -> None:
        from onnx import TensorProto, helper

        self._nodes.append(helper.make_node("Identity", [value], [name], name="output"))
        self._outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))

    def const(self, array: npt.NDArray[Any] | np.generic, prefix: str) -> str:
        from onnx import numpy_helper

        name = self._name(prefix)
        self._inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self._name(op.lower())
        self._nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(
        self, x: str, shape: Shape, weights: F32, bias: F32, stride: int, pad: tuple[int, int]
    ) -> tuple[str, Shape]:
        k = weights.shape[2]
        out = self.node(
            "Conv",
            [x, self.const(weights, "conv_w"), self.const(bias, "conv_b")],
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad[0], pad[1], pad[0], pad[1]],
        )
        return out, (
            weights.shape[0],
            _out_size(shape[1], k, stride, pad[0]),
            _out_size(shape[2], k, stride, pad[1]),
        )

    def pool(
        self,
        x: str,
        shape: Shape,
        op: str,
        window: tuple[int, int],
        stride: int,
        pad: tuple[int, int],
    ) -> tuple[str, Shape]:
        if any(pad):
            # dlib pools only over real pixels; ONNX would count the padding differently.
            raise ModelError(f"dlib embedder: padded {op} is not supported")
        out = self.node(op, [x], kernel_shape=list(window), strides=[stride, stride])
        return out, (
            shape[0],
            _out_size(shape[1], window[0], stride, 0),
            _out_size(shape[2], window[1], stride, 0),
        )

    def add_zero_padded(self, a: str, a_shape: Shape, b: str, b_shape: Shape) -> tuple[str, Shape]:
        """dlib's add_prev: the smaller tensor is zero-padded at the end of each axis."""
        shape: Shape = (
            max(a_shape[0], b_shape[0]),
            max(a_shape[1], b_shape[1]),
            max(a_shape[2], b_shape[2]),
        )
        a = self._pad_to(a, a_shape, shape)
        b = self._pad_to(b, b_shape, shape)
        return self.node("Add", [a, b]), shape

    def _pad_to(self, x: str, shape: Shape, target: Shape) -> str:
        if shape == target:
            return x
        extra = [0, target[0] - shape[0], target[1] - shape[1], target[2] - shape[2]]
        pads = np.asarray([0, 0, 0, 0, *extra], dtype=np.int64)
        return self.node("Pad", [x, self.const(pads, "pads")], mode="constant")

    def serialize(self, name: str, opset: int, ir_version: int) -> bytes:
        from onnx import checker, helper

        graph = helper.make_graph(self._nodes, name, self._inputs, self._outputs, self._inits)
        model = helper.make_model(
            graph,
            producer_name="egate",
            producer_version="1",
            opset_imports=[helper.make_opsetid("", opset)],
        )
        model.ir_version = ir_version
        try:
            checker.check_model(model)
        except Exception as exc:
            raise ModelError(f"generated ONNX graph {name} is invalid: {exc}") from exc
        return bytes(model.SerializeToString(deterministic=True))


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - kernel) // stride
