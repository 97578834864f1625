"""The MMOD detector: the .dat parser, the ONNX graph, dlib's tiled pyramid, NMS, and the
boxes against dlib-bin's ``cnn_face_detection_model_v1`` on the insightface sample photos.

dlib-bin is slow (4-5 s on t1.jpg at 960 px wide), so it runs once per picture per module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import ImageError, ModelError
from gate.interfaces import FaceDetector
from gate.types import Box
from models.dlib import pyramid
from models.dlib.mmod import MmodDetector, nms_dlib
from models.dlib.mmod_onnx import OPSET, build_mmod_onnx, network_to_onnx
from models.dlib.mmod_parse import parse_mmod

# (name, width to resize to or None, upsample): t1 at 960 px gives dlib all six faces at
# upsample 0, at 480 px all six once doubled; dlib finds no face in mask_white (a check for
# false positives).
ORACLE_PICTURES = (
    ("t1.jpg", 960, 0),
    ("t1.jpg", 480, 1),
    ("mask_white.jpg", None, 0),
    ("tom_frame", None, 0),
)


@pytest.fixture(scope="module")
def dat_path(dlib_dat_dir: Path) -> Path:
    return dlib_dat_dir / "mmod_human_face_detector.dat"


@pytest.fixture(scope="module")
def onnx_path(dat_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mmod") / "mmod.onnx"
    path.write_bytes(build_mmod_onnx(dat_path))
    return path


def tom_frame(sample_images: Path) -> np.ndarray:
    """Tom Hanks pasted at twice his size onto a grey 640x480 frame: one face of ~190 px."""
    face = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"), cv2.IMREAD_COLOR)
    face = cv2.resize(face, (224, 224), interpolation=cv2.INTER_CUBIC)
    frame = np.full((480, 640, 3), 118, dtype=np.uint8)
    frame[120:344, 250:474] = face
    return frame


def load_picture(sample_images: Path, name: str, width: int | None) -> np.ndarray:
    if name == "tom_frame":
        return tom_frame(sample_images)
    image = cv2.imread(str(sample_images / name), cv2.IMREAD_COLOR)
    if width is not None:
        height = round(image.shape[0] * width / image.shape[1])
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image


@pytest.fixture(scope="module")
def oracle(sample_images: Path, dat_path: Path) -> list[tuple[np.ndarray, int, list[Any]]]:
    """(picture, upsample, dlib's [(l, t, r, b, confidence)]) for every oracle picture."""
    dlib = pytest.importorskip("dlib", reason="dlib-bin (the test oracle) is not installed")
    detector = dlib.cnn_face_detection_model_v1(str(dat_path))
    out = []
    for name, width, upsample in ORACLE_PICTURES:
        image = load_picture(sample_images, name, width)
        rgb = np.ascontiguousarray(image[..., ::-1])
        found = [
            (d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), d.confidence)
            for d in detector(rgb, upsample)
        ]
        out.append((image, upsample, found))
    return out


# ------------------------------------------------------------------------------ parser, ONNX


def test_parser_reads_the_known_layout(dat_path: Path) -> None:
    net = parse_mmod(dat_path)
    assert (net.window_width, net.window_height) == (80, 80)
    assert 0.3 < net.nms_iou < 0.4
    assert (net.pyramid_padding, net.pyramid_outer_padding) == (10, 11)
    assert [layer.weights.shape[0] for layer in net.layers] == [16, 32, 32, 45, 45, 45, 1]
    assert [layer.stride for layer in net.layers] == [2, 2, 2, 1, 1, 1, 1]
    assert [layer.relu for layer in net.layers] == [True] * 6 + [False]
    assert all(np.isfinite(layer.weights).all() for layer in net.layers)


def test_truncated_dat_names_the_offset(dat_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "mmod.dat"
    broken.write_bytes(dat_path.read_bytes()[:5000])
    with pytest.raises(ModelError, match=r"mmod\.dat.*offset"):
        parse_mmod(broken)


def test_wrong_dat_is_a_model_error(tmp_path: Path) -> None:
    other = tmp_path / "other.dat"
    other.write_bytes(b"\x01\x01\x0aloss_metric")
    with pytest.raises(ModelError, match="other.dat"):
        parse_mmod(other)


def test_corrupt_dat_files_give_model_errors_only(dat_path: Path, tmp_path: Path) -> None:
    data = dat_path.read_bytes()
    rng = np.random.default_rng(11)
    target = tmp_path / "corrupt.dat"
    for trial in range(40):
        blob = bytearray(data)
        if trial % 2:
            blob = blob[: int(rng.integers(0, len(blob)))]
        else:
            for pos in rng.integers(0, 3000, size=3):
                blob[pos] = int(rng.integers(0, 256))
        target.write_bytes(bytes(blob))
        try:
            parse_mmod(target)
        except ModelError as exc:
            assert "corrupt.dat" in str(exc)


def test_onnx_is_deterministic_opset17_dynamic(dat_path: Path) -> None:
    import onnx

    first = build_mmod_onnx(dat_path)
    assert first == network_to_onnx(parse_mmod(dat_path))
    model = onnx.load_from_string(first)
    assert model.opset_import[0].version == OPSET
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, "H", "W"]


def test_onnx_output_size_follows_the_strides(onnx_path: Path) -> None:
    from models.onnx_session import OnnxSession

    session = OnnxSession(onnx_path)
    for height, width in ((100, 120), (77, 301)):
        (out,) = session.run({"image": np.zeros((1, 3, height, width), np.float32)})
        expect_h, expect_w = height, width
        for _ in range(3):
            expect_h, expect_w = (expect_h - 5) // 2 + 1, (expect_w - 5) // 2 + 1
        assert out.shape == (1, 1, expect_h, expect_w)


# ------------------------------------------------------------------------------ pyramid, NMS


@pytest.mark.parametrize(("height", "width"), [(480, 640), (886, 1280), (112, 112), (30, 400)])
def test_tiled_layout_places_every_level_once(height: int, width: int) -> None:
    layout = pyramid.tiled_layout(height, width)
    sizes = pyramid.level_sizes(height, width)
    assert [(t.height, t.width) for t in layout.tiles] == sizes[: len(layout.tiles)]
    assert (layout.tiles[0].left, layout.tiles[0].top) == (11, 11)
    assert layout.width == width + 22
    occupied = np.zeros((layout.height, layout.width), dtype=np.int32)
    for tile in layout.tiles:
        assert tile.left >= 0 and tile.top >= 0
        assert tile.right < layout.width and tile.bottom < layout.height
        occupied[tile.top : tile.bottom + 1, tile.left : tile.right + 1] += 1
    assert occupied.max() == 1


def test_fast_fill_is_close_to_the_exact_fill() -> None:
    rng = np.random.default_rng(7)
    image = cv2.GaussianBlur(rng.integers(0, 256, (120, 150, 3), dtype=np.uint8), (5, 5), 0)
    planes = pyramid.normalise(image, (122.782, 117.001, 104.298))
    layout = pyramid.tiled_layout(120, 150)
    exact = pyramid.fill_exact(planes, layout)
    fast = pyramid.fill_fast(planes, layout)
    assert np.abs(exact - fast).max() < 2e-3  # < 0.5 grey level in pixel units
    # the first level is the normalised picture itself: (pixel - mean) / 256
    first = layout.tiles[0]
    red = exact[0, first.top : first.bottom + 1, first.left : first.right + 1]
    np.testing.assert_allclose(red, (image[..., 2] - 122.782) / 256, atol=1e-6)


def test_window_in_level_k_maps_back_scaled_by_six_fifths_per_level() -> None:
    layout = pyramid.tiled_layout(480, 640)
    for level in (0, 3, 6):
        tile = layout.tiles[level]
        cx, cy = tile.left + tile.width / 2, tile.top + tile.height / 2
        window = np.array([[cx - 39.5, cy - 39.5, cx + 39.5, cy + 39.5]])
        mapped = pyramid.tensor_rects_to_image(layout, window)[0]
        assert mapped[2] - mapped[0] == pytest.approx(79 * 1.2**level, rel=1e-9)


def test_upsample_and_rect_down_follow_pyramid_down_2() -> None:
    image = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    up = pyramid.upsample_like_dlib(image)
    assert up.shape == (41, 62, 3) and up.dtype == np.uint8
    # corner-aligned: the corners are copied (the far one up to dlib's truncation of a
    # position accumulated in steps), the rest lies between its neighbours
    assert (up[0, 0] == image[0, 0]).all()
    assert np.abs(up[-1, -1].astype(int) - image[-1, -1]).max() <= 1
    assert up.min() >= image.min() and up.max() <= image.max()
    # p / 2 - (1.25, 0.75), halves away from zero
    rects = np.array([[10, 10, 89, 89]])
    assert pyramid.rects_down_like_dlib(rects, 1).tolist() == [[4, 4, 43, 44]]


def test_round_half_away_from_zero() -> None:
    got = pyramid.round_half_away(np.array([0.5, 1.5, -0.5, -1.5, 2.49]))
    assert got.tolist() == [1, 2, -1, -2, 2]


def test_nms_uses_the_enclosing_box() -> None:
    # b is shifted 28 px diagonally from a: classic IoU 5184 / 14816 = 0.35 would suppress
    # it, but intersection / enclosing box = 5184 / 128**2 = 0.316 < 0.338 keeps it.
    # c (shifted 20 px) clashes with a: 6400 / 120**2 = 0.44.
    rects = np.array([[0, 0, 99, 99], [28, 28, 127, 127], [20, 20, 119, 119]])
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    assert nms_dlib(rects, scores, 0.338) == [0, 1]
    assert nms_dlib(rects, scores, 0.3) == [0]
    # covered: a box inside another clashes once the covered fraction passes the threshold
    inner = np.array([[0, 0, 99, 99], [10, 10, 39, 39]])
    assert nms_dlib(inner, scores[:2], 0.338, covered=1.0) == [0, 1]
    assert nms_dlib(inner, scores[:2], 0.338, covered=0.9) == [0]


def _clash(a: np.ndarray, b: np.ndarray, iou: float) -> bool:
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return False
    enclosing = (max(a[2], b[2]) - min(a[0], b[0]) + 1) * (max(a[3], b[3]) - min(a[1], b[1]) + 1)
    return bool(iw * ih / enclosing > iou)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 200), st.integers(5, 120)),
        min_size=1,
        max_size=25,
    ),
    st.floats(0.1, 0.9),
)
def test_nms_keeps_no_clashing_pair_and_drops_only_clashes(
    boxes: list[tuple[int, int, int]], iou: float
) -> None:
    rects = np.array([[x, y, x + size - 1, y + size - 1] for x, y, size in boxes])
    scores = np.linspace(1.0, 0.1, len(boxes)).astype(np.float32)[::-1].copy()
    kept = nms_dlib(rects, scores, iou)
    assert list(scores[kept]) == sorted(scores[kept], reverse=True)
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            assert not _clash(rects[a], rects[b], iou)
    for dropped in set(range(len(boxes))) - set(kept):
        assert any(
            _clash(rects[dropped], rects[k], iou) for k in kept if scores[k] >= scores[dropped]
        )


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2000), st.integers(1, 2000))
def test_tiled_layout_holds_for_any_size(height: int, width: int) -> None:
    layout = pyramid.tiled_layout(height, width)
    sizes = pyramid.level_sizes(height, width)
    assert [(t.height, t.width) for t in layout.tiles] == sizes[: len(layout.tiles)]
    assert len(layout.tiles) >= 1
    for tile in layout.tiles:
        assert tile.left >= 0 and tile.right < layout.width
        assert tile.top >= 0 and tile.bottom < layout.height
    for i, a in enumerate(layout.tiles):
        for b in layout.tiles[i + 1 :]:
            assert a.right < b.left or b.right < a.left or a.bottom < b.top or b.bottom < a.top


def test_nms_orders_by_score() -> None:
    rects = np.array([[0, 0, 9, 9], [100, 100, 109, 109]])
    assert nms_dlib(rects, np.array([0.1, 0.5], dtype=np.float32), 0.3) == [1, 0]


# ------------------------------------------------------------------------------ detector


def test_detector_satisfies_the_protocol(onnx_path: Path) -> None:
    assert isinstance(MmodDetector(onnx_path), FaceDetector)


def test_bad_model_and_bad_images(onnx_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        MmodDetector(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="garbage.onnx"):
        MmodDetector(garbage)
    detector = MmodDetector(onnx_path)
    with pytest.raises(ImageError):
        detector.detect(np.zeros((10, 10, 3), dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(ImageError):
        detector.detect(np.zeros((10, 10, 4), dtype=np.uint8))
    assert detector.detect(np.zeros((1, 1, 3), dtype=np.uint8)) == []
    assert detector.detect(np.zeros((3, 500, 3), dtype=np.uint8)) == []


def test_plain_model_without_metadata_is_refused(dat_path: Path, tmp_path: Path) -> None:
    import onnx

    model = onnx.load_from_string(build_mmod_onnx(dat_path))
    del model.metadata_props[:]
    path = tmp_path / "plain.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError, match="not an egate MMOD detector"):
        MmodDetector(path)


def test_exact_mode_gives_dlibs_boxes(onnx_path: Path, oracle: list[Any]) -> None:
    total = 0
    for image, upsample, expected in oracle:
        detector = MmodDetector(onnx_path, exact=True, upsample=upsample)
        found = detector.detect(image)
        # our boxes are inclusive-exclusive, dlib's rectangles inclusive
        got = sorted(
            (int(d.box.left), int(d.box.top), int(d.box.right) - 1, int(d.box.bottom) - 1, d.score)
            for d in found
        )
        assert all(float(d.box.left).is_integer() for d in found)
        want = sorted(expected)
        assert [g[:4] for g in got] == [tuple(w[:4]) for w in want]
        for g, w in zip(got, want, strict=True):
            assert g[4] == pytest.approx(w[4], abs=1e-3)
        total += len(want)
    assert total >= 13  # 6 + 6 in t1, one in the frame


def _iou(a: Box, b: Box) -> float:
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    inter = max(0.0, w) * max(0.0, h)
    return inter / (a.area + b.area - inter)


def test_fast_mode_finds_the_same_faces(onnx_path: Path, oracle: list[Any]) -> None:
    for image, upsample, expected in oracle:
        if upsample:
            continue  # the fast mode doubles with OpenCV: boxes shift by a pyramid step
        found = MmodDetector(onnx_path).detect(image)
        assert len(found) == len(expected)
        for left, top, right, bottom, _ in expected:
            want = Box(left, top, right + 1, bottom + 1)
            assert max(_iou(want, d.box) for d in found) >= 0.8
        scores = [d.score for d in found]
        assert scores == sorted(scores, reverse=True)


def test_min_face_and_max_side_shrink_but_keep_the_big_face(
    onnx_path: Path, sample_images: Path
) -> None:
    frame = tom_frame(sample_images)
    full = MmodDetector(onnx_path).detect(frame)
    assert len(full) == 1
    face = full[0].box
    for detector, min_face in (
        (MmodDetector(onnx_path), 150),
        (MmodDetector(onnx_path, max_side=320), 0),
    ):
        found = detector.detect(frame, min_face=min_face)
        assert len(found) == 1
        assert _iou(found[0].box, face) >= 0.7
    # a face smaller than min_face is dropped
    assert MmodDetector(onnx_path).detect(frame, min_face=int(face.width * 1.5)) == []


def test_grey_and_mirrored_views_are_accepted(onnx_path: Path, sample_images: Path) -> None:
    frame = tom_frame(sample_images)
    detector = MmodDetector(onnx_path)
    mirrored = detector.detect(frame[:, ::-1], min_face=150)
    assert len(mirrored) == 1
    assert mirrored[0].box.left > 640 - 474 - 20  # the face moved to the other side
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    for picture in (grey, grey[:, :, None]):
        assert len(detector.detect(picture)) == 1


def test_pictures_over_the_pixel_limit(
    onnx_path: Path, sample_images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import models.dlib.mmod as mmod

    monkeypatch.setattr(mmod, "MAX_PYRAMID_PIXELS", 320 * 240)
    frame = tom_frame(sample_images)
    found = MmodDetector(onnx_path).detect(frame)  # fast: shrunk to 320x240, face still seen
    assert len(found) == 1 and found[0].box.width > 150
    with pytest.raises(ImageError, match="640x480.*megapixel limit"):
        MmodDetector(onnx_path, exact=True).detect(frame)


def test_upsample_finds_a_small_face(onnx_path: Path, sample_images: Path) -> None:
    # a ~48 px face: below the 80 px window, found only on the doubled picture
    small = cv2.resize(tom_frame(sample_images), (160, 120), interpolation=cv2.INTER_AREA)
    assert MmodDetector(onnx_path).detect(small) == []
    found = MmodDetector(onnx_path, upsample=1).detect(small)
    assert len(found) == 1
    assert 30 < found[0].box.width < 70
