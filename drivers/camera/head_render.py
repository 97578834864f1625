"""The live traveller: the photo's whole head, turned in 3-D, in a lane, through a camera.

What a genuine (or impostor) scene shows, frame by frame:

1. the photo itself, every pixel of it (head, hair, shoulders, its own background), placed
   so that its eyes are where the traveller's are, and extended beyond its edges by a
   defocused continuation of its own border that fades into a synthetic lane (wall, floor):
   no cut-out, and no straight edge around the face;
2. the head turned by the coarse 3-D model of ``drivers.camera.head_model`` (a depth prior
   placed by the five points): the nose moves more than the eyes, proportions are kept;
3. shaded for a light from ``light_azimuth_deg`` (Lambert, relative to the photo's light);
4. seen by the camera (``drivers.camera.camera_effects``): auto-exposure for the light
   level, motion blur from the approach speed and the sway over the shutter time, shot and
   read noise, JPEG.

The traveller walks in from ``start_distance_m`` at ``approach_speed_mps`` and stops at
``stop_distance_m`` (or walks on: ``walk_through``); the face's size in the picture follows
the pinhole camera (eye distance = focal length x 63 mm / distance). Without conditions,
the scene's own legacy parameters (eye distances, yaw amplitude, JPEG range) are used with
the ``typical`` camera.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from drivers.camera.camera_effects import NoiseField, expose, motion_over_shutter
from drivers.camera.conditions import FRAME_RATE, PRESETS, Conditions
from drivers.camera.head_model import HeadModel, draw_accessories
from drivers.camera.scene import (
    F64,
    SceneParameters,
    SyntheticFrame,
    approach_scale,
    face_box,
    gesture_yaw,
    guess_landmarks,
)

F32 = npt.NDArray[np.float32]

GRID = 8  # the geometric maps are computed every GRID pixels, then interpolated
PAD_SHARE = 0.3  # the continuation beyond the photo, a share of its size
BACKGROUND_BLUR = 0.2  # defocus of what lies behind the head, eye distances
# Head motion while walking in. The lane shows the approach once, then its second half to
# and fro (gate.simulate.lane.SceneFeed): at 1.6 Hz that half (0.5 s of a 1 s sequence)
# holds most of a turn whatever the phase, so the gate's liveness sees the head move.
YAW_HZ, PITCH_HZ, ROLL_HZ = 1.6, 1.1, 0.45
# A scene without conditions is a short sequence whatever its frame count (a liveness test
# may render 10 or 16 frames): it spans 1.3 head turns, as the scenes of the cut-out renderer
# did. Faster, a turn takes fewer frames than the liveness cues' landmark-jitter estimate
# (second differences over three frames) tells apart from noise.
LEGACY_SECONDS = 1.3 / YAW_HZ
# A traveller keeps the photo's own pose (turning the head back to frontal with a coarse
# model costs more identity than it gains: measured on lfw-dev, the margin kept fell from
# 0.76-1.05 to 0.41-0.70 on the pairs it moved most), except a face turned so far that a
# gate's camera would hardly see it: that one faces the camera up to FRONTAL_TOLERANCE_DEG,
# turned back by at most MAX_FRONTALISE_DEG.
FRONTAL_TOLERANCE_DEG = 15.0
MAX_FRONTALISE_DEG = 25.0


class HeadSceneParameters(SceneParameters, Protocol):
    @property
    def conditions(self) -> Conditions | None: ...


@dataclass(frozen=True)
class _Texture:
    """The photo padded with a defocused continuation of its border, and its opacity
    (BGRA, the opacity in the fourth channel)."""

    bgra: F32
    pad: int


def _depth_of_field(photo: npt.NDArray[np.uint8], head: HeadModel) -> F32:
    """The photo as a gate camera focused on the traveller sees it: the head sharp, what
    lies behind it (the photo's own background, a bystander) out of focus."""
    h, w = photo.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = head.to_face(xx, yy)
    _, weight, _ = head.shape(u, v)
    sharp = photo.astype(np.float32)
    defocused = cv2.GaussianBlur(sharp, (0, 0), max(1.0, BACKGROUND_BLUR * head.eye_distance))
    keep = weight.astype(np.float32)[..., None]
    return np.asarray(defocused + (sharp - defocused) * keep, np.float32)


def _texture(source: F32, eye_distance: float, seed: int) -> _Texture:
    h, w = source.shape[:2]
    pad = round(max(h, w) * PAD_SHARE)
    padded = cv2.copyMakeBorder(source, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    # the continuation: the border smeared outwards and defocused (strongly far out)
    sigma = max(2.0, 0.6 * eye_distance)
    small = cv2.resize(padded, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    extension = cv2.resize(blurred, (padded.shape[1], padded.shape[0]))
    inside = np.zeros(padded.shape[:2], np.float32)
    inside[pad : pad + h, pad : pad + w] = 1.0
    feather = max(1.5, 0.04 * min(h, w))
    inside = cv2.GaussianBlur(inside, (0, 0), feather)
    pixels = padded * inside[..., None] + extension * (1 - inside[..., None])
    # opacity: 1 over the photo, fading to the lane over the padding, along a wavy line
    yy, xx = np.mgrid[0 : padded.shape[0], 0 : padded.shape[1]].astype(np.float32)
    out_x = np.maximum(np.maximum(pad - xx, xx - (pad + w - 1)), 0)
    out_y = np.maximum(np.maximum(pad - yy, yy - (pad + h - 1)), 0)
    outside = np.sqrt(out_x**2 + out_y**2) / pad
    rng = np.random.default_rng(seed)
    wobble = cv2.resize(
        rng.normal(0.0, 0.25, size=(6, 6)).astype(np.float32),
        (padded.shape[1], padded.shape[0]),
        interpolation=cv2.INTER_CUBIC,
    )
    alpha = np.clip(1.0 - (outside + wobble * outside), 0.0, 1.0)
    alpha = alpha * alpha * (3 - 2 * alpha)  # smooth step
    bgra = np.concatenate([pixels, alpha[..., None]], axis=2)
    return _Texture(np.ascontiguousarray(bgra, np.float32), pad)


def _lane(rng: np.random.Generator, w: int, h: int) -> F32:
    """A wall with soft blotches and a darker floor (no straight lines near the face)."""
    wall = rng.uniform(90, 190, size=3).astype(np.float32)
    ramp = np.linspace(1.08, 0.85, h, dtype=np.float32)[:, None, None]
    image = np.ones((h, w, 3), np.float32) * wall * ramp
    blotches = rng.normal(0, 10, size=(6, 8, 1)) + rng.normal(0, 3, size=(6, 8, 3))
    image += cv2.resize(blotches.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    floor = np.clip((np.arange(h, dtype=np.float32) - 0.82 * h) / (0.04 * h), 0, 1)
    image *= (1.0 - 0.3 * floor)[:, None, None]
    return image


@dataclass(frozen=True)
class _Pose:
    eye_distance: float  # pixels in the frame
    distance_m: float
    approach_mps: float
    centre: tuple[float, float]  # where the eyes' midpoint is in the frame
    sway: tuple[float, float]  # its speed, pixels per second
    yaw: float
    pitch: float
    roll: float


def _poses(scene: HeadSceneParameters, conditions: Conditions, head: HeadModel) -> list[_Pose]:
    rng = np.random.default_rng(scene.seed + 7)
    w, h = scene.size
    phase = rng.uniform(0, 2 * math.pi, size=5)
    drift = rng.uniform(0.02, 0.05, size=2) * np.array([w, h])
    yaw_amp = math.radians(conditions.yaw_deg)
    excess = abs(head.photo_yaw) - math.radians(FRONTAL_TOLERANCE_DEG)
    turn_back = min(max(0.0, excess), math.radians(MAX_FRONTALISE_DEG))
    offset = -math.copysign(turn_back, head.photo_yaw)
    out = []
    legacy = scene.conditions is None
    for index in range(scene.frames):
        t = index / FRAME_RATE
        clip = index / (scene.frames - 1) if scene.frames > 1 else 1.0  # for the gesture
        if legacy:  # the sequence is the approach, whatever its length (1.3 head turns)
            unit = index / (scene.frames - 1) if scene.frames > 1 else 1.0
            t = LEGACY_SECONDS * unit
            eye = approach_scale(scene, unit)
            distance = conditions.eye_distance_px(1.0) / eye
            speed = 0.0
        else:
            distance = conditions.distance_at(t)
            eye = conditions.eye_distance_px(distance)
            speed = conditions.speed_at(t)

        def sway(k: int, hz: float, t: float) -> float:
            return math.sin(2 * math.pi * hz * t + phase[k])

        centre = (w / 2 + drift[0] * sway(0, 0.5, t), 0.42 * h + drift[1] * sway(1, 0.9, t))
        velocity = (
            drift[0] * 2 * math.pi * 0.5 * math.cos(2 * math.pi * 0.5 * t + phase[0]),
            drift[1] * 2 * math.pi * 0.9 * math.cos(2 * math.pi * 0.9 * t + phase[1]),
        )
        out.append(
            _Pose(
                eye_distance=eye,
                distance_m=distance,
                approach_mps=speed,
                centre=centre,
                sway=velocity,
                yaw=offset + yaw_amp * sway(2, YAW_HZ, t) + gesture_yaw(scene.gesture, clip),
                pitch=math.radians(conditions.pitch_deg) * sway(3, PITCH_HZ, t),
                roll=math.radians(conditions.roll_deg) * sway(4, ROLL_HZ, t),
            )
        )
    return out


def _frame_angle(head: HeadModel, pose: _Pose) -> float:
    """The in-plane rotation from photo to frame: the photo's own tilt is undone (a
    traveller stands upright at the gate), then the pose's roll is applied."""
    return pose.roll - math.atan2(head.x_axis[1], head.x_axis[0])


def _maps(
    head: HeadModel, pose: _Pose, size: tuple[int, int], pad: int, light_azimuth: float
) -> tuple[F32, F32, F32]:
    """Texture coordinates of every frame pixel, and the shading factor there."""
    w, h = size
    gw, gh = -(-w // GRID), -(-h // GRID)
    gx, gy = np.meshgrid(
        np.arange(gw, dtype=np.float64) * GRID + (GRID - 1) / 2,
        np.arange(gh, dtype=np.float64) * GRID + (GRID - 1) / 2,
    )
    s = pose.eye_distance / head.eye_distance
    angle = _frame_angle(head, pose)
    cos_r, sin_r = math.cos(angle), math.sin(angle)
    ux, uy = (gx - pose.centre[0]) / s, (gy - pose.centre[1]) / s
    # frame -> photo, after the turn: undo the rotation about the eyes and the placement
    qx = cos_r * ux + sin_r * uy + head.origin[0]
    qy = -sin_r * ux + cos_r * uy + head.origin[1]
    px, py = head.inverse(qx, qy, pose.yaw, pose.pitch)
    shade = head.shading(px, py, pose.yaw, pose.pitch, light_azimuth)
    mapx = cv2.resize((px + pad).astype(np.float32), (gw * GRID, gh * GRID))[:h, :w]
    mapy = cv2.resize((py + pad).astype(np.float32), (gw * GRID, gh * GRID))[:h, :w]
    shading = cv2.resize(shade.astype(np.float32), (gw * GRID, gh * GRID))[:h, :w]
    return (
        np.ascontiguousarray(mapx, np.float32),
        np.ascontiguousarray(mapy, np.float32),
        np.ascontiguousarray(shading, np.float32),
    )


def _forward(head: HeadModel, pose: _Pose, points: F64) -> F64:
    """The photo's points in the frame (the ground truth)."""
    dx, dy = head.displacement_px(points[:, 0], points[:, 1], pose.yaw, pose.pitch)
    tx = points[:, 0] + dx - head.origin[0]
    ty = points[:, 1] + dy - head.origin[1]
    s = pose.eye_distance / head.eye_distance
    angle = _frame_angle(head, pose)
    cos_r, sin_r = math.cos(angle), math.sin(angle)
    return np.stack(
        [
            s * (cos_r * tx - sin_r * ty) + pose.centre[0],
            s * (sin_r * tx + cos_r * ty) + pose.centre[1],
        ],
        axis=1,
    )


def scene_conditions(scene: HeadSceneParameters) -> Conditions:
    """The scene's conditions, or for a scene without any, ``typical`` with its legacy
    head turn and JPEG quality."""
    if scene.conditions is not None:
        return scene.conditions
    low, high = scene.jpeg_quality
    return replace(
        PRESETS["typical"],
        name="legacy",
        yaw_deg=min(45.0, scene.yaw_amplitude_deg),
        jpeg_quality=max(1, min(100, (low + high) // 2)),
    )


def render(scene: HeadSceneParameters) -> Iterator[SyntheticFrame]:
    """The frames of a genuine or impostor scene (see the module's docstring)."""
    conditions = scene_conditions(scene)
    rng = np.random.default_rng(scene.seed)
    w, h = scene.size
    landmarks = (
        np.asarray(scene.photo_landmarks, dtype=np.float64)
        if scene.photo_landmarks is not None
        else guess_landmarks(scene.photo)
    )
    head = HeadModel.fit(landmarks)
    texture = _texture(_depth_of_field(scene.photo, head), head.eye_distance, scene.seed)
    draw_accessories(
        texture.bgra,
        landmarks,
        float(texture.pad),
        conditions.glasses,
        conditions.occlusion,
        scene.seed,
    )
    lane = _lane(rng, w, h)
    noise = NoiseField(rng, (h, w, 3))
    azimuth = math.radians(conditions.light_azimuth_deg)
    for index, pose in enumerate(_poses(scene, conditions, head)):
        mapx, mapy, shading = _maps(head, pose, (w, h), texture.pad, azimuth)
        warped = cv2.remap(texture.bgra, mapx, mapy, cv2.INTER_LINEAR, borderValue=0.0)
        alpha = warped[..., 3:]
        radiance = lane + (warped[..., :3] * shading[..., None] - lane) * alpha
        motion = motion_over_shutter(
            pose.centre,
            pose.eye_distance,
            pose.distance_m,
            pose.approach_mps,
            pose.sway,
            conditions.shutter_s,
        )
        image = expose(
            np.asarray(radiance, np.float32),
            noise,
            light_level=conditions.light_level,
            motion=motion,
            read_noise=conditions.read_noise,
            jpeg_quality=conditions.jpeg_quality,
        )
        points = _forward(head, pose, landmarks)
        yield SyntheticFrame(
            image=image,
            boxes=(face_box(points, pose.eye_distance),),
            landmarks=(tuple((float(x), float(y)) for x, y in points),),
            kind=scene.kind,
            index=index,
        )
