from __future__ import annotations

import itertools

import numpy as np
import pytest

from drivers.camera.mjpeg_server import MjpegServer
from drivers.camera.registry import open_camera
from drivers.camera.synthetic import (
    SCENE_KINDS,
    TravellerScene,
    guess_landmarks,
    render_sequence,
)
from gate.errors import InputError
from tests.drivers.camera.conftest import TOM_HANKS_POINTS


def _scene(photo: np.ndarray, kind: str, seed: int = 0, frames: int = 6) -> TravellerScene:
    return TravellerScene(
        photo, kind=kind, seed=seed, frames=frames, photo_landmarks=TOM_HANKS_POINTS
    )


def test_scenes_are_deterministic_per_seed(face_photo: np.ndarray) -> None:
    a = [f.image for f in render_sequence(_scene(face_photo, "genuine", seed=7, frames=3))]
    b = [f.image for f in render_sequence(_scene(face_photo, "genuine", seed=7, frames=3))]
    c = [f.image for f in render_sequence(_scene(face_photo, "genuine", seed=8, frames=3))]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_every_kind_renders_frames_with_truth(face_photo: np.ndarray, kind: str) -> None:
    frames = list(render_sequence(_scene(face_photo, kind)))
    assert len(frames) == 6
    expected_faces = {"no_face": 0, "two_faces": 2}.get(kind, 1)
    for frame in frames:
        assert frame.image.shape == (480, 640, 3) and frame.image.dtype == np.uint8
        assert len(frame.boxes) == len(frame.landmarks) == expected_faces
        assert frame.is_attack == (kind in ("print", "screen"))
        for box, points in zip(frame.boxes, frame.landmarks, strict=True):
            pts = np.asarray(points)
            assert pts.shape == (5, 2)
            assert (pts[:, 0] > box.left).all() and (pts[:, 0] < box.right).all()
            assert (pts[:, 1] > box.top).all() and (pts[:, 1] < box.bottom).all()


def test_the_face_grows_as_the_traveller_walks_in(face_photo: np.ndarray) -> None:
    frames = list(render_sequence(_scene(face_photo, "genuine", frames=8)))
    widths = [f.boxes[0].width for f in frames]
    assert widths[-1] > 1.7 * widths[0]
    assert widths == sorted(widths)


def test_live_heads_turn_non_rigidly(face_photo: np.ndarray) -> None:
    def nose_offsets(kind: str) -> np.ndarray:
        out = []
        for f in render_sequence(_scene(face_photo, kind, frames=10)):
            p = np.asarray(f.landmarks[0])
            eye_a, eye_b = p[0:2].mean(0), p[2:4].mean(0)
            e = eye_b - eye_a
            out.append(np.dot(p[4] - (eye_a + eye_b) / 2, e) / np.dot(e, e))
        return np.asarray(out)

    assert np.ptp(nose_offsets("genuine")) > 0.15
    assert np.ptp(nose_offsets("print")) < 0.03


def test_bad_scenes_are_refused(face_photo: np.ndarray) -> None:
    with pytest.raises(InputError, match="scene kind 'mask'"):
        TravellerScene(face_photo, kind="mask")
    with pytest.raises(InputError, match="photo_landmarks"):
        TravellerScene(face_photo, photo_landmarks=((1.0, 2.0),))
    with pytest.raises(InputError, match="at least 32x32"):
        TravellerScene(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError, match="frames"):
        TravellerScene(face_photo, frames=0)


def test_guessed_landmarks_sit_inside_a_portrait(face_photo: np.ndarray) -> None:
    points = guess_landmarks(face_photo)
    _h, w = face_photo.shape[:2]
    assert points.shape == (5, 2)
    assert (points[:, 0] > 0).all() and (points[:, 0] < w).all()
    assert points[4, 1] > points[:4, 1].max()  # the nose is below the eyes


@pytest.mark.parametrize(
    ("kind", "faces"),
    [("genuine", 1), ("print", 1), ("screen", 1), ("no_face", 0), ("two_faces", 2)],
)
def test_a_real_dlib_detector_finds_the_faces(
    face_photo: np.ndarray,
    dlib_oracle,
    kind: str,
    faces: int,  # type: ignore[no-untyped-def]
) -> None:
    frames = list(render_sequence(_scene(face_photo, kind, seed=1, frames=8)))[2::2]
    found = [len(dlib_oracle.analyze(f.image, min_face=40)) for f in frames]
    assert sum(n == faces for n in found) >= len(frames) - 1, found


def test_a_scene_served_over_mjpeg_reads_back_through_opencv(face_photo: np.ndarray) -> None:
    scene = _scene(face_photo, "screen", frames=4)
    with MjpegServer(scene.images, fps=30.0, loop=True) as server:
        camera = open_camera(server.url)
        try:
            frames = [camera.read(5.0) for _ in range(4)]
        finally:
            camera.close()
    assert all(f.image.shape == (480, 640, 3) for f in frames)
    assert [f.index for f in frames] == sorted(f.index for f in frames)
    assert len(list(itertools.islice(scene.images(), 2))) == 2
