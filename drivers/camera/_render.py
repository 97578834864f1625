"""The pixel work behind ``drivers.camera.synthetic`` (kept apart to keep that module short):
the background, the body, the live face turned as a head turns, the camera's own effects.
The flat pictures of the attack scenes (print, screen) are ``drivers.camera._attacks``.

It reads scenes through ``drivers.camera.scene`` only, never ``synthetic``, which imports it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from drivers.camera._attacks import planar_photo, print_texture, screen_texture
from drivers.camera.scene import (
    F64,
    SceneParameters,
    SyntheticFrame,
    approach_scale,
    face_box,
    guess_landmarks,
    head_angles,
)
from gate.images import decode_image
from gate.types import Box, ImageBGR

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class _FaceGeometry:
    """Where the face is in a photo, and the soft head-shaped mask that cuts it out."""

    photo: F32
    landmarks: F64
    eye_distance: float
    centre: F64  # centre of the head ellipse
    radii: tuple[float, float]
    nose: F64
    mask: F32

    @staticmethod
    def of(photo: ImageBGR, landmarks: F64) -> _FaceGeometry:
        eye_a = landmarks[0:2].mean(axis=0)
        eye_b = landmarks[2:4].mean(axis=0)
        d = float(np.linalg.norm(eye_a - eye_b))
        mid = (eye_a + eye_b) / 2
        centre = mid + np.array([0.0, 0.45 * d])
        rx, ry = 1.05 * d, 1.45 * d
        h, w = photo.shape[:2]
        mask = np.zeros((h, w), np.float32)
        cv2.ellipse(
            mask,
            (round(centre[0]), round(centre[1])),
            (round(rx), round(ry)),
            0,
            0,
            360,
            1.0,
            -1,
        )
        # Fade the photo's own edges too, so a tight crop leaves no straight border.
        edge = max(2, round(0.04 * min(h, w)))
        ramp_y = np.clip(np.minimum(np.arange(h), np.arange(h)[::-1]) / edge, 0, 1)
        ramp_x = np.clip(np.minimum(np.arange(w), np.arange(w)[::-1]) / edge, 0, 1)
        mask *= np.outer(ramp_y, ramp_x).astype(np.float32)
        sigma = max(1.0, 0.08 * d)
        mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigma), np.float32)
        return _FaceGeometry(
            photo=photo.astype(np.float32),
            landmarks=landmarks,
            eye_distance=d,
            centre=centre,
            radii=(rx, ry),
            nose=landmarks[4].astype(np.float64),
            mask=mask,
        )

    def displacement(self, px: F64, py: F64, yaw: float, pitch: float) -> tuple[F64, F64]:
        """How far a point of the photo moves when the head turns (yaw, pitch, radians).

        The head is an ellipsoid with a bump for the nose: points that stand out (the nose)
        move more than points further back (the eyes, the outline), which is what makes the
        motion non-rigid. No homography of the whole face reproduces it.
        """
        cx, cy = self.centre
        rx, ry = self.radii
        d = self.eye_distance
        u = (px - cx) / rx
        v = (py - cy) / ry
        base = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))
        nx, ny = self.nose[0], self.nose[1] - 0.15 * d
        bump = np.exp(-((px - nx) ** 2 + (py - ny) ** 2) / (2 * (0.3 * d) ** 2))
        z = rx * 0.55 * base + 0.45 * d * bump
        dx = z * math.sin(yaw) - (px - cx) * (1 - math.cos(yaw))
        dy = z * math.sin(pitch) - (py - cy) * (1 - math.cos(pitch))
        return dx, dy


def _background(rng: np.random.Generator, w: int, h: int) -> F32:
    wall = rng.uniform(90, 200, size=3)
    ramp = np.linspace(1.1, 0.8, h, dtype=np.float32)[:, None, None]
    image = np.ones((h, w, 3), np.float32) * wall.astype(np.float32) * ramp
    blotches = cv2.resize(
        rng.normal(0, 12, size=(6, 8, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    image += blotches
    floor = int(0.8 * h)
    image[floor:] *= 0.7
    frame_colour = tuple(float(c) for c in rng.uniform(40, 120, size=3))
    bar = max(4, w // 40)
    cv2.rectangle(image, (int(0.06 * w), 0), (int(0.06 * w) + bar, floor), frame_colour, -1)
    cv2.rectangle(image, (int(0.92 * w), 0), (int(0.92 * w) + bar, floor), frame_colour, -1)
    return image


def _draw_body(canvas: F32, centre: F64, eye_distance: float, colour: tuple[float, ...]) -> None:
    cx, cy = float(centre[0]), float(centre[1])
    cv2.ellipse(
        canvas,
        (round(cx), round(cy + 2.9 * eye_distance)),
        (round(2.4 * eye_distance), round(1.8 * eye_distance)),
        0,
        180,
        360,
        colour,
        -1,
    )
    cv2.rectangle(
        canvas,
        (round(cx - 2.4 * eye_distance), round(cy + 2.9 * eye_distance)),
        (round(cx + 2.4 * eye_distance), canvas.shape[0]),
        colour,
        -1,
    )
    neck = (round(cx - 0.45 * eye_distance), round(cy + 1.0 * eye_distance))
    neck_end = (round(cx + 0.45 * eye_distance), round(cy + 1.9 * eye_distance))
    cv2.rectangle(canvas, neck, neck_end, (95, 120, 165), -1)


def _live_face(
    canvas: F32,
    face: _FaceGeometry,
    centre: F64,
    eye_distance: float,
    angles: tuple[float, float, float],
    light: float,
) -> tuple[Box, F64]:
    """Paste the turned, scaled face at ``centre``; return its box and five points."""
    yaw, pitch, roll = angles
    s = eye_distance / face.eye_distance
    cos_r, sin_r = math.cos(roll), math.sin(roll)
    h, w = canvas.shape[:2]
    rx, ry = face.radii
    half = 1.25 * s * max(rx, ry)
    x0, x1 = max(0, int(centre[0] - half)), min(w, int(centre[0] + half) + 1)
    y0, y1 = max(0, int(centre[1] - half)), min(h, int(centre[1] + half) + 1)
    if x1 <= x0 or y1 <= y0:
        return Box(0, 0, 0, 0), np.zeros((5, 2))
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    # frame -> photo coordinates after the turn (inverse similarity) ...
    ux, uy = (gx - centre[0]) / s, (gy - centre[1]) / s
    qx = cos_r * ux + sin_r * uy + face.centre[0]
    qy = -sin_r * ux + cos_r * uy + face.centre[1]
    # ... -> photo coordinates before the turn (fixed-point inverse of the smooth warp)
    px, py = qx.copy(), qy.copy()
    for _ in range(3):
        dx, dy = face.displacement(px, py, yaw, pitch)
        px, py = qx - dx, qy - dy
    mapx, mapy = px.astype(np.float32), py.astype(np.float32)
    pixels = cv2.remap(face.photo, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.remap(face.mask, mapx, mapy, cv2.INTER_LINEAR, borderValue=0.0)[..., None]
    side = np.clip((px - face.centre[0]) / rx, -1, 1)[..., None]
    pixels = pixels * (1.0 + light * side).astype(np.float32)
    region = canvas[y0:y1, x0:x1]
    region[:] = region * (1 - alpha) + pixels * alpha
    # Ground truth: the forward map of the photo's five points.
    lx, ly = face.landmarks[:, 0], face.landmarks[:, 1]
    dx, dy = face.displacement(lx, ly, yaw, pitch)
    tx, ty = lx + dx - face.centre[0], ly + dy - face.centre[1]
    points = np.stack(
        [
            s * (cos_r * tx - sin_r * ty) + centre[0],
            s * (sin_r * tx + cos_r * ty) + centre[1],
        ],
        axis=1,
    )
    box = face_box(points, eye_distance)
    return box, points


def _camera_effects(
    canvas: F32, rng: np.random.Generator, exposure: float, blur: float, quality: int
) -> ImageBGR:
    image: F32 = (canvas * exposure).astype(np.float32)
    if blur > 1.5:
        length = round(blur)
        kernel = np.zeros((length, length), np.float32)
        angle = rng.uniform(0, math.pi)
        c = (length - 1) / 2
        dx, dy = math.cos(angle) * c, math.sin(angle) * c
        cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
        image = np.asarray(
            cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6)), np.float32
        )
    noise = rng.normal(0.0, 1.0, size=image.shape).astype(np.float32)
    noisy = image + noise * (2.0 + 0.12 * np.sqrt(np.clip(image, 0, None)))
    clipped = np.clip(noisy, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", clipped, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return clipped
    return decode_image(data.tobytes(), "simulated camera JPEG")


def _photo_yaw(landmarks: F64) -> float:
    """How far the photo's face is turned (radians, + = nose towards +x), from the nose's
    offset along the eye line (dlib's points; the nose stands ~0.45 eye distances out)."""
    eye_a, eye_b = landmarks[0:2].mean(axis=0), landmarks[2:4].mean(axis=0)
    left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    e = right - left
    d2 = float(np.dot(e, e))
    if d2 <= 0:
        return 0.0
    along = float(np.dot(landmarks[4] - (left + right) / 2, e)) / d2
    return math.atan2(along, 0.45)


def render(scene: SceneParameters) -> Iterator[SyntheticFrame]:
    rng = np.random.default_rng(scene.seed)
    w, h = scene.size
    background = _background(rng, w, h)
    landmarks = (
        np.asarray(scene.photo_landmarks, dtype=np.float64)
        if scene.photo_landmarks is not None
        else guess_landmarks(scene.photo)
    )
    face = _FaceGeometry.of(scene.photo, landmarks)
    if scene.second_photo is not None:
        other = _FaceGeometry.of(scene.second_photo, guess_landmarks(scene.second_photo))
    else:
        flipped = np.ascontiguousarray(scene.photo[:, ::-1])
        mirrored = landmarks.copy()
        mirrored[:, 0] = scene.photo.shape[1] - 1 - mirrored[:, 0]
        mirrored = mirrored[[2, 3, 0, 1, 4]]
        other = _FaceGeometry.of(flipped, mirrored)
    phase = float(rng.uniform(0, 2 * math.pi))
    # A photo whose face is already turned is turned back towards the camera by up to the
    # scene's amplitude, so the head swings around frontal instead of further away.
    yaw_offset = -math.copysign(
        min(abs(_photo_yaw(landmarks)), math.radians(scene.yaw_amplitude_deg)),
        _photo_yaw(landmarks),
    )
    clothes = tuple(float(c) for c in rng.uniform(30, 160, size=3))
    drift = rng.uniform(-0.08, 0.08, size=2) * np.array([w, h])
    if scene.kind == "print":
        texture, offset = print_texture(scene.photo)
        zoom = 1
    elif scene.kind == "screen":
        texture, offset, zoom = screen_texture(scene.photo)
    previous_scale = approach_scale(scene, 0.0)
    for index in range(scene.frames):
        t = index / (scene.frames - 1) if scene.frames > 1 else 1.0
        canvas = background.copy()
        eye_d = approach_scale(scene, t)
        centre = np.array(
            [
                w / 2 + drift[0] * math.sin(2 * math.pi * 0.5 * t + phase),
                0.42 * h + drift[1] * math.cos(2 * math.pi * 0.4 * t + phase),
            ]
        )
        yaw, pitch, roll = head_angles(scene, t, phase)
        angles = (yaw + yaw_offset, pitch, roll)
        light = 0.2 * math.sin(2 * math.pi * 0.6 * t + phase)
        boxes: list[Box] = []
        points: list[F64] = []
        if scene.kind == "no_face":
            _draw_body(canvas, centre + np.array([0, 2.2 * eye_d]), eye_d, clothes)
        elif scene.kind in ("genuine", "impostor", "two_faces"):
            if scene.kind == "two_faces":
                second_centre = centre + np.array([0.27 * w, 0.05 * h])
                _draw_body(canvas, second_centre, 0.8 * eye_d, clothes[::-1])
                box, pts = _live_face(canvas, other, second_centre, 0.8 * eye_d, angles, -light)
                boxes.append(box)
                points.append(pts)
                centre = centre - np.array([0.12 * w, 0])
            _draw_body(canvas, centre, eye_d, clothes)
            box, pts = _live_face(canvas, face, centre, eye_d, angles, light)
            boxes.insert(0, box)
            points.insert(0, pts)
        else:
            _draw_body(canvas, centre, eye_d, clothes)
            rigid = (0.5 * angles[0], 0.8 * angles[1], angles[2])
            anchor = face.centre * zoom + offset
            tex_points = landmarks * zoom + offset
            pts, mask = planar_photo(
                canvas,
                texture,
                tex_points,
                anchor,
                centre,
                eye_d / (face.eye_distance * zoom),
                rigid,
            )
            if scene.kind == "screen":
                gx = centre[0] + 0.6 * eye_d * math.sin(2 * math.pi * 0.8 * t + phase)
                gy = centre[1] - 0.4 * eye_d
                yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
                glare = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.5 * eye_d) ** 2))
                canvas += (90.0 * glare)[..., None] * mask
            boxes.append(face_box(pts, eye_d))
            points.append(pts)
        speed = abs(eye_d - previous_scale)
        previous_scale = eye_d
        blur = 1.0 + 2.0 * speed + (rng.uniform(5, 9) if rng.uniform() < 0.15 else 0.0)
        exposure = 1.0 + 0.12 * math.sin(2 * math.pi * 0.3 * t + phase)
        quality = int(rng.integers(scene.jpeg_quality[0], scene.jpeg_quality[1] + 1))
        image = _camera_effects(canvas, rng, exposure, blur, quality)
        yield SyntheticFrame(
            image=image,
            boxes=tuple(boxes),
            landmarks=tuple(tuple((float(x), float(y)) for x, y in p) for p in points),
            kind=scene.kind,
            index=index,
        )
