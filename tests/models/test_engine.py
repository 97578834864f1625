"""FaceEngine with in-memory fakes: ordering, policies, distances, thresholds, timings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from gate.errors import FaceError, InputError, ModelError, MultipleFacesError, NoFaceError
from gate.types import Box, Detection, ImageBGR, Landmarks5
from models.engine import FaceEngine
from models.manifest import InputSpec, PackManifest
from models.runtime import PackRuntime

CHIP = 8


class FakeDetector:
    def __init__(self, boxes: Sequence[Box], with_points: bool = False) -> None:
        self.boxes = list(boxes)
        self.with_points = with_points
        self.min_faces: list[int] = []

    def detect(self, image: ImageBGR, min_face: int = 0) -> list[Detection]:
        self.min_faces.append(min_face)
        found = []
        for i, box in enumerate(self.boxes):
            if min(box.width, box.height) < min_face:
                continue
            points = (
                tuple((box.left + k, box.top + k) for k in range(5)) if self.with_points else None
            )
            found.append(Detection(box, score=0.9 - 0.1 * i, landmarks=points))
        return found


class FakeLandmarks:
    def landmarks(self, image: ImageBGR, box: Box) -> Landmarks5:
        return Landmarks5(tuple((box.left + k, box.bottom - k) for k in range(5)))


def crop_aligner(image: ImageBGR, landmarks: Landmarks5) -> ImageBGR:
    x, y = (int(v) for v in landmarks.points[0])
    return np.ascontiguousarray(image[y : y + CHIP, x : x + CHIP])


class MeanEmbedder:
    embedding_size = 3

    def __init__(self) -> None:
        self.batches: list[int] = []

    def embed(self, chips: Sequence[ImageBGR]) -> np.ndarray:
        self.batches.append(len(chips))
        return np.array([c.reshape(-1, 3).mean(0) + 1.0 for c in chips], dtype=np.float32)


def manifest(
    distance: str = "euclidean", thresholds: dict[str, float] | None = None
) -> PackManifest:
    return PackManifest(
        id="fake",
        kind="dlib-cc0",
        files={},
        input=InputSpec(CHIP, "BGR", "none", "crop"),
        embedding_size=3,
        distance=distance,  # type: ignore[arg-type]
        thresholds=thresholds if thresholds is not None else {"1e-2": 0.7, "1e-3": 0.6},
        calibration="test",
    )


def engine(
    boxes: Sequence[Box],
    *,
    distance: str = "euclidean",
    points: bool = False,
    embedder: MeanEmbedder | None = None,
) -> FaceEngine:
    runtime = PackRuntime(
        detector=FakeDetector(boxes, with_points=points),
        landmarks=None if points else FakeLandmarks(),
        aligner=crop_aligner,
        embedder=embedder or MeanEmbedder(),
    )
    return FaceEngine(manifest(distance), runtime)


SMALL = Box(10, 10, 60, 60)
LARGE = Box(100, 20, 200, 120)
IMAGE = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def test_analyze_orders_largest_first_and_passes_min_face() -> None:
    detector = FakeDetector([SMALL, LARGE])
    eng = FaceEngine(
        manifest(), PackRuntime(detector, FakeLandmarks(), crop_aligner, MeanEmbedder())
    )
    faces = eng.analyze(IMAGE, min_face=20)
    assert [f.detection.box for f in faces] == [LARGE, SMALL]
    assert faces[0].landmarks.points[0] == (100, 120)  # from the landmark model
    assert detector.min_faces == [20]
    assert all(f.embedding is None for f in faces)


def test_detector_points_are_used_when_the_pack_has_no_landmark_model() -> None:
    faces = engine([LARGE], points=True).analyze(IMAGE)
    assert faces[0].landmarks.points[1] == (101, 21)


def test_detector_without_points_and_no_landmark_model_is_a_model_error() -> None:
    runtime = PackRuntime(FakeDetector([LARGE]), None, crop_aligner, MeanEmbedder())
    with pytest.raises(ModelError, match="gave no 5 landmarks"):
        FaceEngine(manifest(), runtime).analyze(IMAGE)


def test_embed_one_largest_and_single_policies() -> None:
    eng = engine([SMALL, LARGE])
    face = eng.embed_one(IMAGE)
    assert face.detection.box == LARGE and face.embedding is not None
    expected = IMAGE[120 : 120 + CHIP, 100 : 100 + CHIP].reshape(-1, 3).mean(0) + 1
    np.testing.assert_allclose(face.embedding, expected, rtol=1e-6)
    with pytest.raises(MultipleFacesError, match="^2 faces found$") as caught:
        eng.embed_one(IMAGE, policy="single")
    assert caught.value.count == 2
    assert engine([LARGE]).embed_one(IMAGE, policy="single").detection.box == LARGE


def test_no_face_and_too_small_faces() -> None:
    with pytest.raises(NoFaceError, match="no face"):
        engine([]).embed_one(IMAGE)
    with pytest.raises(FaceError, match="no face .*of at least 80 px"):
        engine([SMALL]).embed_one(IMAGE, min_face=80)


def test_embed_is_one_batch() -> None:
    embedder = MeanEmbedder()
    eng = engine([SMALL, LARGE], embedder=embedder)
    faces = eng.analyze(IMAGE)
    out = eng.embed(IMAGE, faces)
    assert out.shape == (2, 3) and out.dtype == np.float32 and embedder.batches == [2]
    assert eng.embed(IMAGE, []).shape == (0, 3)


def test_timings_cover_every_stage() -> None:
    timings: dict[str, float] = {}
    engine([LARGE]).embed_one(IMAGE, timings=timings)
    assert set(timings) == {"detect", "landmarks", "align", "embed"}
    assert all(v >= 0 for v in timings.values())


def test_bad_inputs_are_input_errors() -> None:
    eng = engine([LARGE])
    with pytest.raises(InputError, match=r"uint8 BGR image .*shape \(10, 10\)"):
        eng.analyze(np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="got list"):
        eng.analyze([[0]])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"chip 1 has shape \(5, 5, 3\)"):
        eng.embed_chips([np.zeros((8, 8, 3), np.uint8), np.zeros((5, 5, 3), np.uint8)])
    with pytest.raises(InputError, match="unknown face policy"):
        eng.embed_one(IMAGE, policy="biggest")  # type: ignore[arg-type]


def test_embedder_returning_the_wrong_shape_is_a_model_error() -> None:
    class Broken(MeanEmbedder):
        def embed(self, chips: Sequence[ImageBGR]) -> np.ndarray:
            return np.zeros((len(chips), 5), np.float32)

    with pytest.raises(ModelError, match=r"returned shape \(1, 5\), expected \(1, 3\)"):
        engine([LARGE], embedder=Broken()).embed_one(IMAGE)


def test_euclidean_distances_are_row_wise_and_broadcast() -> None:
    eng = engine([])
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    expected = [np.linalg.norm(x - y) for x, y in zip(a, b, strict=False)]
    np.testing.assert_allclose(eng.distances(a, b), expected, rtol=1e-5)
    np.testing.assert_allclose(
        eng.distances(a[0], b), [np.linalg.norm(a[0] - y) for y in b], rtol=1e-5
    )
    assert eng.distance(a[0], b[0]) == pytest.approx(expected[0], rel=1e-5)
    with pytest.raises(InputError, match="cannot pair 6 embeddings with 2"):
        eng.distances(a, b[:2])
    with pytest.raises(InputError, match="d=3"):
        eng.distances(np.zeros(4), np.zeros(4))


def test_cosine_distance_is_one_minus_cosine() -> None:
    eng = engine([], distance="cosine")
    assert eng.distance([1, 0, 0], [2, 0, 0]) == pytest.approx(0.0, abs=1e-7)
    assert eng.distance([1, 0, 0], [0, 3, 0]) == pytest.approx(1.0)
    assert eng.distance([1, 1, 0], [-1, -1, 0]) == pytest.approx(2.0)
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    cos = [x @ y / np.linalg.norm(x) / np.linalg.norm(y) for x, y in zip(a, b, strict=False)]
    np.testing.assert_allclose(eng.distances(a, b), 1 - np.array(cos), rtol=1e-5, atol=1e-6)


def test_thresholds_and_decisions() -> None:
    eng = engine([])
    assert eng.threshold() == 0.6 and eng.threshold("0.01") == 0.7
    assert eng.is_match(0.6) and not eng.is_match(0.6001)
    assert eng.is_match(0.65, "1e-2") and not eng.is_match(0.65, "1e-3")
    with pytest.raises(ModelError, match=r"no threshold for FMR '1e-4' \(it has: 1e-2, 1e-3\)"):
        eng.threshold("1e-4")


class ShapeRecorder(FakeDetector):
    def __init__(self, boxes: Sequence[Box]) -> None:
        super().__init__(boxes, with_points=True)
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, image: ImageBGR, min_face: int = 0) -> list[Detection]:
        self.shapes.append(image.shape)
        return super().detect(image, min_face)


def test_small_pictures_are_doubled_for_detection_and_mapped_back() -> None:
    detector = ShapeRecorder([Box(40, 60, 200, 220)])
    runtime = PackRuntime(detector, None, crop_aligner, MeanEmbedder())
    eng = FaceEngine(manifest(), runtime)
    small = np.zeros((150, 150, 3), np.uint8)
    faces = eng.analyze(small, min_face=30)
    assert detector.shapes == [(300, 300, 3)] and detector.min_faces == [60]
    assert faces[0].detection.box == Box(20, 30, 100, 110)
    assert faces[0].landmarks.points[1] == (20.5, 30.5)  # detector points halved too
    eng.analyze(np.zeros((480, 640, 3), np.uint8))
    assert detector.shapes[-1] == (480, 640, 3)  # camera frames: never doubled
    eng.upsample_small = False
    eng.analyze(small)
    assert detector.shapes[-1] == (150, 150, 3)


class LeftColumnEmbedder:
    """Sees only the chip's left column, so a mirrored chip gives a different vector."""

    embedding_size = 3

    def __init__(self) -> None:
        self.batches: list[int] = []

    def embed(self, chips: Sequence[ImageBGR]) -> np.ndarray:
        self.batches.append(len(chips))
        return np.array([c[:, 0].reshape(-1, 3).mean(0) for c in chips], dtype=np.float32)


def test_flip_average_embeds_chip_and_mirror_in_one_batch() -> None:
    from dataclasses import replace

    embedder = LeftColumnEmbedder()
    flipped = replace(manifest(), input=InputSpec(CHIP, "BGR", "none", "crop", flip_average=True))
    eng = FaceEngine(
        flipped, PackRuntime(FakeDetector([]), FakeLandmarks(), crop_aligner, embedder)
    )
    chip = np.zeros((CHIP, CHIP, 3), np.uint8)
    chip[:, 0] = 200  # left column bright, right column dark
    out = eng.embed_chips([chip, chip])
    assert embedder.batches == [4]
    # mean of the left column (200) and, for the mirror, the right column (0)
    np.testing.assert_allclose(out, np.full((2, 3), 100.0, np.float32))


def test_nominal_threshold_round_trips_through_json() -> None:
    from dataclasses import replace

    m = replace(manifest(), nominal_threshold=0.6)
    back = PackManifest.from_json(m.to_json(), "test")
    assert back.nominal_threshold == 0.6
    assert PackManifest.from_json(manifest().to_json(), "test").nominal_threshold is None


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_distance_matrix_equals_distances_row_wise(distance: str) -> None:
    eng = engine([], distance=distance)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
    matrix = eng.distance_matrix(a, b)
    assert matrix.shape == (7, 5) and matrix.dtype == np.float32
    for row in range(7):
        np.testing.assert_allclose(matrix[row], eng.distances(a[row], b), rtol=1e-6, atol=1e-7)
    # A vector against itself is at distance 0, never NaN from rounding below zero.
    same = eng.distance_matrix(a, a)
    np.testing.assert_allclose(np.diag(same), 0.0, atol=1e-6)
    assert np.isfinite(same).all()


def test_distance_matrix_is_validated_like_distances() -> None:
    eng = engine([])
    assert eng.distance_matrix(np.zeros(3), np.ones((4, 3))).shape == (1, 4)
    assert eng.distance_matrix(np.zeros((0, 3)), np.ones((4, 3))).shape == (0, 4)
    with pytest.raises(InputError, match="d=3"):
        eng.distance_matrix(np.zeros((2, 4)), np.zeros((2, 3)))
    with pytest.raises(InputError, match="d=3"):
        eng.distance_matrix(np.zeros((2, 2, 3)), np.zeros((2, 3)))
