"""dlib's MMOD CNN face detector (``mmod_human_face_detector.dat``) on ONNX Runtime.

The network (dnn_mmod_face_detection_ex.cpp) is fully convolutional::

    input_rgb_image_pyramid<pyramid_down<6>>
    3 x [con 5x5 stride 2 (16, 32, 32 filters) + bn_con + relu]      # "downsampler"
    3 x [con 5x5 stride 1 (45 filters) + bn_con + relu]
    con 9x9 stride 1 (1 filter)                                       # the score map

The file stores no structure, so the parser (``models.dlib.mmod_parse``) walks the known
layout and checks every layer's tag and shape against it. Batch norms are folded into the
convolutions at conversion (``models.dlib.mmod_onnx`` writes the ONNX model).

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
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gate.errors import ImageError, ModelError
from gate.types import Box, Detection, ImageBGR
from models.dlib import pyramid
from models.dlib.mmod_onnx import INPUT_NAME, OPSET, OUTPUT_NAME, build_mmod_onnx, network_to_onnx
from models.dlib.mmod_parse import ConvLayer, MmodNetwork, parse_mmod
from models.onnx_session import OnnxSession

logger = logging.getLogger(__name__)

# Re-exported: the parser and the ONNX writer live in mmod_parse and mmod_onnx.
__all__ = [
    "INPUT_NAME",
    "MAX_PYRAMID_PIXELS",
    "OPSET",
    "OUTPUT_NAME",
    "ConvLayer",
    "MmodDetector",
    "MmodNetwork",
    "build_mmod_onnx",
    "network_to_onnx",
    "nms_dlib",
    "parse_mmod",
]

# Window centre in the input tensor for output cell c: three 5x5 stride-2 unpadded convs.
_CELL_STRIDE = 8
_CELL_OFFSET = 14
# The smallest tiled picture that yields one output cell: 29 -> 13 -> 5 -> 1.
_MIN_TENSOR_SIDE = 29
# The biggest picture the pyramid is built from (after upsampling): the tiled float picture
# and the first activations take about 200 bytes per pixel, so 16 MP is ~3 GB. The fast mode
# shrinks bigger pictures to this; the exact mode refuses them.
MAX_PYRAMID_PIXELS = 16_000_000


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
        meta = self._session.metadata
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
