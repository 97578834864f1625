"""A coarse 3-D head fitted to a photo's five points, to turn the photo's own head.

The photo is left whole: every pixel keeps its colour, and each gets a depth from a generic
head shape placed by the five points (dlib's order: the corners of both eyes, the base of
the nose). In the face's own frame (origin between the eyes, x along the eye line, y
down, unit = the eye distance ``d``):

* the skull and face are an ellipsoid centred 0.15 d below the eyes, with half-axes
  1.25 d (ear to ear), 1.75 d (crown to chin) and 1.35 d (front to back), proportions of an
  adult head (eye distance 63 mm, head breadth 155 mm, height 220 mm);
  its edge rounded off from 0.85 of its radius to 1.1;
* the nose stands out of it by 0.5 d around the nose (an adult nose tip stands about 30 mm
  in front of the eyes), a Gaussian bump;
* outside the head the depth is nought and pixels move less and less with the head
  (``weight``: 1 on the head, 0 from 0.35 of its radius beyond it): the shoulders and the
  photo's background stay put, the band in between stretches, as a turning neck does.

A head turn rotates every point (x, y, z) of the head about the ellipsoid's centre and
projects it orthographically back into the photo: the nose moves more than the eyes, the
eyes more than the ears, so the face keeps its proportions as it turns. The renderer
inverts this map (each output pixel looks up where it came from) by fixed-point iteration,
which converges for turns well under the angle at which the nose hides a cheek.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

HEAD_CENTRE_V = 0.15  # the ellipsoid's centre below the eyes, eye distances
HEAD_AXES = (1.25, 1.75, 1.35)  # half-axes x, y, z, eye distances
NOSE_HEIGHT = 0.5  # how far the nose tip stands out of the ellipsoid, eye distances
NOSE_SIGMA = 0.28  # the nose bump's width, eye distances
NOSE_UP = 0.15  # the bump's centre above dlib's nose point (the base of the nose)
NECK_FADE = 0.35  # beyond the head's outline, the weight falls to 0 over this share
EDGE_START, EDGE_END = 0.85, 1.1  # where the rounded edge starts and ends (ellipsoid radii)
_EDGE_DEPTH = math.sqrt(1.0 - EDGE_START**2)
INVERSE_STEPS = 4  # fixed-point iterations of the inverse map
AMBIENT = 0.55  # share of the light that comes from everywhere (no shading)


@dataclass(frozen=True)
class HeadModel:
    """Where the head is in a photo: its frame (origin, axes, scale)."""

    origin: F64  # between the eyes, photo pixels
    x_axis: F64  # unit vector along the eye line (left to right in the photo)
    y_axis: F64  # unit vector down the face
    eye_distance: float
    nose: F64  # the nose bump's centre in face units (u, v)
    photo_yaw: float  # how far the photo's face is already turned, radians

    @staticmethod
    def fit(landmarks: F64) -> HeadModel:
        eye_a = landmarks[0:2].mean(axis=0)
        eye_b = landmarks[2:4].mean(axis=0)
        left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
        axis = right - left
        d = float(np.linalg.norm(axis))
        if d < 1.0:
            d, axis = 1.0, np.array([1.0, 0.0])
        x_axis = axis / np.linalg.norm(axis)
        y_axis = np.array([-x_axis[1], x_axis[0]])
        origin = (left + right) / 2
        rel = landmarks[4] - origin
        nose = np.array([rel @ x_axis / d, rel @ y_axis / d - NOSE_UP])
        # the nose base sits NOSE_HEIGHT + the ellipsoid's front out of the eye plane; its
        # offset along the eye line tells how far the photo's face is turned
        along = float(rel @ x_axis) / d
        photo_yaw = math.atan2(along, 0.45)
        return HeadModel(origin, x_axis, y_axis, d, nose, photo_yaw)

    # -- the frame ------------------------------------------------------------------------
    def to_face(self, px: F64, py: F64) -> tuple[F64, F64]:
        dx, dy = px - self.origin[0], py - self.origin[1]
        u = (dx * self.x_axis[0] + dy * self.x_axis[1]) / self.eye_distance
        v = (dx * self.y_axis[0] + dy * self.y_axis[1]) / self.eye_distance
        return u, v

    def from_face_vector(self, du: F64, dv: F64) -> tuple[F64, F64]:
        d = self.eye_distance
        return (
            d * (du * self.x_axis[0] + dv * self.y_axis[0]),
            d * (du * self.x_axis[1] + dv * self.y_axis[1]),
        )

    # -- the shape ------------------------------------------------------------------------
    def shape(self, u: F64, v: F64) -> tuple[F64, F64, F64]:
        """(depth in front of the centre, weight of the head's motion, ellipsoid radius)
        at face coordinates (u, v)."""
        ax, ay, az = HEAD_AXES
        y = v - HEAD_CENTRE_V
        r2 = (u / ax) ** 2 + (y / ay) ** 2
        r = np.sqrt(r2)
        # the ellipsoid, whose edge is rounded off into a straight slope down to nought at
        # EDGE_END (a vertical edge would make the turn's inverse diverge at the outline)
        sphere = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
        slope = _EDGE_DEPTH * np.clip((EDGE_END - r) / (EDGE_END - EDGE_START), 0.0, 1.0)
        depth = az * np.where(r < EDGE_START, sphere, slope)
        nu, nv = self.nose
        bump = np.exp(-((u - nu) ** 2 + (v - nv) ** 2) / (2 * NOSE_SIGMA**2))
        depth = depth + NOSE_HEIGHT * bump * (r2 < 1.0)
        weight = np.clip((1.0 + NECK_FADE - r) / NECK_FADE, 0.0, 1.0)
        return depth, weight, r

    def turn(self, u: F64, v: F64, yaw: float, pitch: float) -> tuple[F64, F64, F64]:
        """Where face point (u, v) goes when the head turns: its displacement (du, dv) in
        face units, and the cosine between its turned surface normal and the light's
        direction relative to the camera (for shading; see ``shading``)."""
        depth, weight, _ = self.shape(u, v)
        y = v - HEAD_CENTRE_V
        cy, sy = math.cos(yaw), math.sin(yaw)
        cp, sp = math.cos(pitch), math.sin(pitch)
        # yaw about the vertical axis, then pitch about the horizontal one
        x1 = u * cy + depth * sy
        z1 = -u * sy + depth * cy
        y2 = y * cp + z1 * sp
        du = weight * (x1 - u)
        dv = weight * (y2 - y)
        return du, dv, depth

    def displacement_px(self, px: F64, py: F64, yaw: float, pitch: float) -> tuple[F64, F64]:
        u, v = self.to_face(px, py)
        du, dv, _ = self.turn(u, v, yaw, pitch)
        return self.from_face_vector(du, dv)

    def inverse(self, qx: F64, qy: F64, yaw: float, pitch: float) -> tuple[F64, F64]:
        """Photo points that land on (qx, qy) after the turn (fixed-point iteration)."""
        px, py = qx.copy(), qy.copy()
        for _ in range(INVERSE_STEPS):
            dx, dy = self.displacement_px(px, py, yaw, pitch)
            px, py = qx - dx, qy - dy
        return px, py

    def shading(self, px: F64, py: F64, yaw: float, pitch: float, light_azimuth: float) -> F64:
        """Brightness factor of each photo point after the turn under a light from
        ``light_azimuth`` (radians, 0 = from the camera): Lambert's cosine with an ambient
        share, relative to the photo as taken (lit from the front), so a frontal light on
        an unturned head changes nothing."""
        u, v = self.to_face(px, py)
        _, weight, r = self.shape(u, v)
        ax, ay, az = HEAD_AXES
        y = v - HEAD_CENTRE_V
        inside = np.clip(1.0 - r * r, 1e-3, 1.0)
        # the ellipsoid's normal (gradient of the implicit function), front side
        nx, ny, nz = u / ax**2, y / ay**2, np.sqrt(inside) / az
        norm = np.sqrt(nx * nx + ny * ny + nz * nz)
        nx, ny, nz = nx / norm, ny / norm, nz / norm
        cy, sy = math.cos(yaw), math.sin(yaw)
        cp, sp = math.cos(pitch), math.sin(pitch)
        tx = nx * cy + nz * sy
        tz = -nx * sy + nz * cy
        tz2 = -ny * sp + tz * cp
        light = (math.sin(light_azimuth), 0.0, math.cos(light_azimuth))
        lit = np.clip(tx * light[0] + tz2 * light[2], 0.0, 1.0)
        before = np.clip(nz, 0.0, 1.0)
        factor = (AMBIENT + (1 - AMBIENT) * lit) / (AMBIENT + (1 - AMBIENT) * before)
        return np.asarray(1.0 + weight * (r < 1.0) * (factor - 1.0), dtype=np.float64)


def draw_accessories(
    texture: F32, landmarks: F64, offset: float, glasses: bool, occlusion: float, seed: int
) -> None:
    """Glasses and a lower-face cover, drawn on the photo so that they turn with the head.
    ``offset``: where the photo starts in ``texture`` (its padding)."""
    if not glasses and occlusion <= 0:
        return
    head = HeadModel.fit(landmarks)
    d = head.eye_distance
    rng = np.random.default_rng(seed)
    pts = landmarks + offset
    eyes = (pts[0:2].mean(axis=0), pts[2:4].mean(axis=0))
    angle = math.degrees(math.atan2(head.x_axis[1], head.x_axis[0]))
    if glasses:
        colour = (*(float(c) for c in rng.uniform(10, 60, size=3)), 1.0)  # opaque
        thick = max(1, round(0.06 * d))
        axes = (round(0.42 * d), round(0.3 * d))
        for eye in eyes:
            centre = (round(eye[0]), round(eye[1] + 0.05 * d))
            cv2.ellipse(texture, centre, axes, angle, 0, 360, colour, thick, cv2.LINE_AA)
        a, b = sorted(eyes, key=lambda e: e[0])
        bridge_a = (round(a[0] + 0.42 * d), round(a[1]))
        bridge_b = (round(b[0] - 0.42 * d), round(b[1]))
        cv2.line(texture, bridge_a, bridge_b, colour, thick, cv2.LINE_AA)
    if occlusion > 0:
        # a scarf or a hand from the chin up: the face spans about 1.0 d above the eyes
        # (forehead) to 1.9 d below (chin)
        chin = head.origin + 1.9 * d * head.y_axis + offset
        height = occlusion * 2.9 * d
        top = chin - height * head.y_axis
        half = 1.4 * d
        corners = np.array(
            [
                top - half * head.x_axis,
                top + half * head.x_axis,
                chin + 0.8 * d * head.y_axis + half * head.x_axis,
                chin + 0.8 * d * head.y_axis - half * head.x_axis,
            ]
        )
        colour = (*(float(c) for c in rng.uniform(40, 200, size=3)), 1.0)
        cv2.fillConvexPoly(texture, np.round(corners).astype(np.int32), colour, cv2.LINE_AA)
