"""onnxruntime sessions with explicit thread counts and errors translated to ModelError.

Every model in egate runs through ``OnnxSession`` so that thread use is decided in one place
(the gate shares a few cores between camera, detector and embedder) and so that a broken or
mismatched model file surfaces as ``ModelError`` naming the file, not as an onnxruntime
exception type.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.errors import ModelError

log = logging.getLogger(__name__)


def session_options(threads: int = 0, spin: bool = False) -> Any:
    """Options for a CPU session: ``threads`` intra-op threads (0 = onnxruntime's default).

    ``spin=False`` stops idle worker threads from busy-waiting: the gate shares its few cores
    with camera capture and other models, and on a loaded 2-core machine spinning made a
    2-thread embedder run 2x slower (median 15 ms vs 7.8 ms per face).
    """
    import onnxruntime as ort

    if threads < 0:
        raise ModelError(f"thread count must be >= 0, got {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # One graph at a time per session: parallelism comes from intra-op threads only, so
    # the total thread use stays what the caller asked for.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return options


class OnnxSession:
    """A loaded ONNX model on the CPU provider.

    ``model`` is a path or the serialized bytes; ``label`` names it in error messages
    (defaults to the path); ``spin`` lets idle threads busy-wait (see ``session_options``).
    """

    def __init__(
        self, model: Path | bytes, threads: int = 0, label: str | None = None, spin: bool = False
    ) -> None:
        import onnxruntime as ort

        if isinstance(model, bytes):
            self.label = label or "<in-memory ONNX model>"
            source: str | bytes = model
        else:
            self.label = label or str(model)
            if not Path(model).is_file():
                raise ModelError(f"ONNX model file not found: {model}")
            source = str(model)
        try:
            self._session = ort.InferenceSession(
                source,
                sess_options=session_options(threads, spin),
                providers=["CPUExecutionProvider"],
            )
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime raises its own pybind exception types
            raise ModelError(f"cannot load ONNX model {self.label}: {exc}") from exc
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.threads = threads
        log.debug("loaded ONNX model %s (threads=%d)", self.label, threads)

    @property
    def metadata(self) -> dict[str, str]:
        """The model's metadata properties (read by ONNX Runtime: no ``onnx`` import, which
        costs most of a second in every process that loads a pack)."""
        return dict(self._session.get_modelmeta().custom_metadata_map)

    def input_shape(self, name: str) -> list[int | str | None]:
        for item in self._session.get_inputs():
            if item.name == name:
                return list(item.shape)
        raise ModelError(f"ONNX model {self.label} has no input named {name!r}")

    def run(
        self,
        feeds: Mapping[str, npt.NDArray[Any]],
        outputs: Sequence[str] | None = None,
    ) -> list[npt.NDArray[Any]]:
        missing = [name for name in self.input_names if name not in feeds]
        if missing:
            raise ModelError(f"ONNX model {self.label}: missing inputs {missing}")
        try:
            results = self._session.run(list(outputs) if outputs else None, dict(feeds))
        except Exception as exc:
            raise ModelError(f"ONNX model {self.label} failed to run: {exc}") from exc
        return [np.asarray(r) for r in results]
