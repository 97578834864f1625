"""YuNet (OpenCV zoo, 2023mar): boxes, scores and 5 points, decoded like ``cv2.FaceDetectorYN``.

The picture is shrunk so its longer side is at most ``MAX_SIDE`` (larger pictures gain
nothing for faces the size of a lane's), padded to a multiple of 32, and fed as float BGR.
Each of the three strides (8, 16, 32) gives per-cell class and objectness scores (the score
is their geometric mean), a box relative to the cell and five points: the eye centres (the
image-left one first), the nose tip and the mouth corners, the order of the ArcFace template.
A score threshold of 0.6 (OpenCV's default 0.9 missed faces of lfw-dev) and NMS at IoU 0.3.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from gate.types import Box, Detection, ImageBGR
from models.onnx_session import OnnxSession

MAX_SIDE = 640
STRIDES = (8, 16, 32)
SCORE_THRESHOLD = 0.6
NMS_IOU = 0.3


class YunetDetector:
    """``FaceDetector``: YuNet on onnxruntime; detections carry the 5 points."""

    def __init__(self, path: Path, threads: int = 0, score_threshold: float = SCORE_THRESHOLD):
        self._session = OnnxSession(path, threads=threads)
        self.score_threshold = score_threshold

    def detect(self, image: ImageBGR, min_face: int = 0) -> list[Detection]:
        height, width = image.shape[:2]
        scale = min(1.0, MAX_SIDE / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
        rows, cols = image.shape[:2]
        pad_rows, pad_cols = math.ceil(rows / 32) * 32, math.ceil(cols / 32) * 32
        blob = np.zeros((1, 3, pad_rows, pad_cols), np.float32)
        blob[0, :, :rows, :cols] = image.transpose(2, 0, 1)
        outputs = dict(
            zip(self._session.output_names, self._session.run({"input": blob}), strict=True)
        )
        boxes, scores, points = [], [], []
        for stride in STRIDES:
            grid_cols = pad_cols // stride
            score = np.sqrt(
                np.clip(outputs[f"cls_{stride}"][0, :, 0], 0, 1)
                * np.clip(outputs[f"obj_{stride}"][0, :, 0], 0, 1)
            )
            keep = np.nonzero(score >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            cell_x = (keep % grid_cols).astype(np.float32)
            cell_y = (keep // grid_cols).astype(np.float32)
            bbox = outputs[f"bbox_{stride}"][0, keep]
            centre_x = (cell_x + bbox[:, 0]) * stride
            centre_y = (cell_y + bbox[:, 1]) * stride
            box_w = np.exp(bbox[:, 2]) * stride
            box_h = np.exp(bbox[:, 3]) * stride
            boxes.append(np.stack([centre_x - box_w / 2, centre_y - box_h / 2, box_w, box_h], 1))
            kps = outputs[f"kps_{stride}"][0, keep].reshape(-1, 5, 2)
            points.append(
                np.stack([(kps[..., 0] + cell_x[:, None]), (kps[..., 1] + cell_y[:, None])], -1)
                * stride
            )
            scores.append(score[keep])
        if not boxes:
            return []
        all_boxes = np.concatenate(boxes) / scale
        all_points = np.concatenate(points) / scale
        all_scores = np.concatenate(scores)
        chosen = cv2.dnn.NMSBoxes(
            all_boxes.tolist(), all_scores.tolist(), self.score_threshold, NMS_IOU
        )
        found = []
        for index in np.asarray(chosen, dtype=np.int64).reshape(-1):
            x, y, w, h = (float(v) for v in all_boxes[index])
            # YuNet's boxes are tight (about 0.75 as wide as tall, narrower than MMOD's
            # square windows): the face's size is the box's height.
            if h < min_face:
                continue
            landmarks = tuple((float(px), float(py)) for px, py in all_points[index])
            found.append(Detection(Box(x, y, x + w, y + h), float(all_scores[index]), landmarks))
        found.sort(key=lambda d: d.score, reverse=True)
        return found
