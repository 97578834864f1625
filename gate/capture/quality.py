"""Face image quality measures, in the spirit of ISO/IEC 29794-5.

Each measure is computed on one face of one frame: size (box width, distance between the eye
centres), sharpness, exposure and contrast of the face region, and head pose (yaw, pitch,
roll) estimated from the five landmarks. ``assess`` turns them into a ``FaceQuality`` with a
score in [0, 1] for best-shot ranking and the list of checks the face failed.

The landmark convention depends on the model pack: dlib's 5 points are the eye corners
(two per eye) and the bottom of the nose; InsightFace's are the eye centres, the nose tip and
the mouth corners. ``face_points`` hides the difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from gate.errors import InputError
from gate.types import Face, ImageBGR, Landmarks5


@dataclass(frozen=True)
class LandmarkLayout:
    """How to read a pack's 5 points. ``nose_depth``: how far the nose point stands in front
    of the eyes, in eye distances; ``nose_drop``: how far below the eyes it is when frontal."""

    eye_a: tuple[int, ...]
    eye_b: tuple[int, ...]
    nose: int
    nose_depth: float
    nose_drop: float


# The two conventions of 5 points; each face engine says which its points follow
# (``CaptureEngine.landmark_layout``; for a pack, its kind's entry in ``models.kinds``).
LAYOUTS = {
    # dlib: eye corners (outer, inner) of one eye, then the other; the bottom of the nose.
    "dlib-cc0": LandmarkLayout((0, 1), (2, 3), 4, nose_depth=0.45, nose_drop=0.78),
    # insightface (and YuNet): eye centres, nose tip, mouth corners.
    "insightface": LandmarkLayout((0,), (1,), 2, nose_depth=0.55, nose_drop=0.57),
}


@dataclass(frozen=True)
class FacePoints:
    """The eye centres (in image order, left to right) and the nose, in pixels."""

    eye_left: tuple[float, float]
    eye_right: tuple[float, float]
    nose: tuple[float, float]

    @property
    def eye_distance(self) -> float:
        return math.dist(self.eye_left, self.eye_right)

    def nose_offsets(self) -> tuple[float, float]:
        """The nose relative to the eyes' midpoint, along and across the eye line, in eye
        distances. Both are unchanged by shifting, scaling and rotating the picture."""
        ex = self.eye_right[0] - self.eye_left[0]
        ey = self.eye_right[1] - self.eye_left[1]
        d2 = ex * ex + ey * ey
        if d2 <= 0:
            return 0.0, 0.0
        mx = (self.eye_left[0] + self.eye_right[0]) / 2
        my = (self.eye_left[1] + self.eye_right[1]) / 2
        nx, ny = self.nose[0] - mx, self.nose[1] - my
        along = (nx * ex + ny * ey) / d2
        across = (-nx * ey + ny * ex) / d2
        return along, across


def layout_for(kind: str) -> LandmarkLayout:
    try:
        return LAYOUTS[kind]
    except KeyError:
        known = ", ".join(sorted(LAYOUTS))
        raise InputError(f"unknown landmark layout {kind!r} (known: {known})") from None


def face_points(landmarks: Landmarks5, layout: LandmarkLayout) -> FacePoints:
    pts = landmarks.as_array()
    if pts.shape != (5, 2):
        raise InputError(f"expected 5 landmarks (x, y), got shape {pts.shape}")
    a = pts[list(layout.eye_a)].mean(axis=0)
    b = pts[list(layout.eye_b)].mean(axis=0)
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    return FacePoints(
        eye_left=(float(left[0]), float(left[1])),
        eye_right=(float(right[0]), float(right[1])),
        nose=(float(pts[layout.nose][0]), float(pts[layout.nose][1])),
    )


def head_pose(points: FacePoints, layout: LandmarkLayout) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees; a coarse estimate from 5 points, good to ~5 degrees."""
    along, across = points.nose_offsets()
    yaw = math.degrees(math.atan2(along, layout.nose_depth))
    pitch = math.degrees(math.atan2(layout.nose_drop - across, layout.nose_depth + 0.5))
    roll = math.degrees(
        math.atan2(
            points.eye_right[1] - points.eye_left[1], points.eye_right[0] - points.eye_left[0]
        )
    )
    return yaw, pitch, roll


@dataclass(frozen=True)
class QualityThresholds:
    min_face: float = 60.0  # face box width, pixels
    min_eye_distance: float = 28.0  # pixels between the eye centres (ICAO asks 60+ on photos)
    min_sharpness: float = 0.4
    min_brightness: float = 50.0
    max_brightness: float = 210.0
    min_contrast: float = 18.0
    max_yaw_deg: float = 30.0
    max_pitch_deg: float = 25.0
    max_roll_deg: float = 20.0


@dataclass(frozen=True)
class FaceQuality:
    """The measures of one face in one frame, the checks it failed and a ranking score."""

    face_width: float
    eye_distance: float
    sharpness: float  # Laplacian energy relative to the contrast, on a 96x96 face crop
    brightness: float  # mean grey level of the inner face
    contrast: float  # grey-level standard deviation of the inner face
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    detector_score: float
    failed: tuple[str, ...]
    score: float  # in [0, 1], higher is a better shot

    @property
    def ok(self) -> bool:
        return not self.failed


def _inner_face(image: ImageBGR, face: Face) -> np.ndarray | None:
    box = face.detection.box
    h, w = image.shape[:2]
    x0, x1 = max(0, int(box.left)), min(w, math.ceil(box.right))
    y0, y1 = max(0, int(box.top)), min(h, math.ceil(box.bottom))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.resize(grey, (96, 96), interpolation=cv2.INTER_AREA), np.float32)


def sharpness_of(crop: np.ndarray) -> float:
    """Standard deviation of the Laplacian over the grey-level standard deviation: blur lowers
    it, a change of exposure or contrast does not."""
    lap = cv2.Laplacian(crop, cv2.CV_32F, ksize=3)
    return float(lap.std() / (crop.std() + 1.0))


def assess(
    image: ImageBGR,
    face: Face,
    layout: LandmarkLayout,
    thresholds: QualityThresholds | None = None,
) -> FaceQuality:
    """Measure one face; see ``FaceQuality``."""
    limits = thresholds or QualityThresholds()
    points = face_points(face.landmarks, layout)
    yaw, pitch, roll = head_pose(points, layout)
    crop = _inner_face(image, face)
    if crop is None:
        sharp, brightness, contrast = 0.0, 0.0, 0.0
    else:
        sharp = sharpness_of(crop)
        inner = crop[19:77, 19:77]  # the middle 60 %: skin, eyes, nose, not the background
        brightness, contrast = float(inner.mean()), float(inner.std())
    width = face.detection.box.width
    eyes = points.eye_distance
    failed = []
    if width < limits.min_face:
        failed.append("face_too_small")
    if eyes < limits.min_eye_distance:
        failed.append("eyes_too_close")
    if sharp < limits.min_sharpness:
        failed.append("blurred")
    if brightness < limits.min_brightness:
        failed.append("too_dark")
    if brightness > limits.max_brightness:
        failed.append("too_bright")
    if contrast < limits.min_contrast:
        failed.append("low_contrast")
    if abs(yaw) > limits.max_yaw_deg:
        failed.append("yaw")
    if abs(pitch) > limits.max_pitch_deg:
        failed.append("pitch")
    if abs(roll) > limits.max_roll_deg:
        failed.append("roll")
    size_term = min(1.0, eyes / (2.0 * limits.min_eye_distance))
    sharp_term = min(1.0, sharp / (2.0 * limits.min_sharpness))
    pose_term = max(0.0, 1.0 - (yaw / 45.0) ** 2 - (pitch / 45.0) ** 2)
    middle = (limits.min_brightness + limits.max_brightness) / 2
    span = (limits.max_brightness - limits.min_brightness) / 2
    exposure_term = max(0.0, 1.0 - 0.5 * (abs(brightness - middle) / span) ** 2)
    contrast_term = min(1.0, contrast / (2.0 * limits.min_contrast))
    score = size_term * sharp_term * pose_term * exposure_term * contrast_term
    return FaceQuality(
        face_width=float(width),
        eye_distance=float(eyes),
        sharpness=sharp,
        brightness=brightness,
        contrast=contrast,
        yaw_deg=yaw,
        pitch_deg=pitch,
        roll_deg=roll,
        detector_score=float(face.detection.score),
        failed=tuple(failed),
        score=float(max(0.0, min(1.0, score))),
    )
