"""dlib's regression-tree shape predictor (``shape_predictor_5_face_landmarks.dat``) in numpy.

``convert_shape_predictor`` parses the ``.dat`` once (pure Python, about a second) into a
``.npz`` of fixed-shape arrays; ``ShapePredictor5`` evaluates it vectorised: per cascade level
one gather of the 800 feature pixels and one pass over all 500 trees per tree depth.

It reproduces dlib exactly: the similarity transform between the reference and current
shape is solved in double precision and used in float32; feature positions are rounded
with floor(x + 0.5); pixel intensity is the integer mean (r + g + b) // 3; a tree goes left
when ``pixel[a] - pixel[b] > threshold`` (float32); leaf vectors are added in tree order in
float32; the final points are rounded to whole pixels like dlib's ``full_object_detection``.

Boxes: a ``gate.types.Box`` is right/bottom exclusive (OpenCV); dlib's rectangle is
inclusive with integer corners. ``dlib_rect(box)`` maps one to the other:
(round(left), round(top), round(right) - 1, round(bottom) - 1) with round = floor(x + 0.5);
a dlib rectangle (l, t, r, b) is ``Box(l, t, r + 1, b + 1)``.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gate.errors import InputError, ModelError
from gate.types import Box, ImageBGR, Landmarks5
from models.dlib.serialization import DlibReader

NPZ_KEYS = ("initial_shape", "split_pixels", "split_thresh", "leaf_values", "anchor", "deltas")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps make the .npz bytes reproducible

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


# ---------------------------------------------------------------------------------- parsing
def read_shape_predictor(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """Parse a dlib shape predictor .dat into arrays (all trees must be complete, same depth).

    initial_shape (2P,) float32; split_pixels (L, T, S, 2) int32; split_thresh (L, T, S)
    float32; leaf_values (L, T, S + 1, 2P) float32; anchor (L, F) int32; deltas (L, F, 2)
    float32 -- L levels, T trees, S splits per tree, F feature pixels, P points.
    """
    reader = DlibReader.from_path(path)
    reader.expect_int(1, "shape predictor version")
    initial = reader.read_matrix().ravel()
    if initial.size == 0 or initial.size % 2:
        raise reader.error(f"initial shape has {initial.size} values (need 2 per point)")
    start = reader.offset
    levels = reader.read_count("cascade level", 1000)
    if levels == 0:
        raise reader.error("shape predictor without cascade levels", start)
    pixels: list[list[int]] = []
    thresholds: list[float] = []
    leaves: list[float] = []
    trees_per_level = splits_per_tree = -1
    read_int, read_float = reader.read_int, reader.read_float
    for _ in range(levels):
        start = reader.offset
        trees = reader.read_count("tree", 100_000)
        if trees == 0:
            raise reader.error("cascade level without trees", start)
        if trees_per_level not in (-1, trees):
            raise reader.error(f"levels differ in tree count ({trees_per_level} vs {trees})")
        trees_per_level = trees
        for _ in range(trees):
            start = reader.offset
            splits = reader.read_count("split", 1 << 16)
            if splits_per_tree not in (-1, splits):
                raise reader.error(f"trees differ in split count ({splits})", start)
            splits_per_tree = splits
            for _ in range(splits):
                pixels.append([read_int(), read_int()])
                thresholds.append(read_float())
            start = reader.offset
            if reader.read_count("leaf", 1 << 17) != splits + 1:
                raise reader.error(f"tree with {splits} splits needs {splits + 1} leaves", start)
            for _ in range(splits + 1):
                leaf = reader.read_matrix().ravel()
                if leaf.size != initial.size:
                    raise reader.error(f"leaf of {leaf.size} values, shape has {initial.size}")
                leaves.extend(leaf.tolist())
    anchors = _read_nested(reader, levels, "anchor", lambda count: reader.read_ints(count))
    deltas = _read_nested(reader, levels, "delta", lambda count: reader.read_floats(2 * count))
    reader.expect_end()
    if math.log2(splits_per_tree + 1) % 1:
        raise ModelError(f"{path}: trees with {splits_per_tree} splits are not complete")
    features = len(anchors[0])
    if features == 0 or any(len(a) != features for a in anchors):
        raise ModelError(f"{path}: cascade levels have no or different numbers of feature pixels")
    anchor_array = np.asarray(anchors, dtype=np.int64)
    if anchor_array.min() < 0 or anchor_array.max() >= initial.size // 2:
        raise ModelError(f"{path}: inconsistent feature pixel anchors")
    split_pixels = np.asarray(pixels, dtype=np.int32)
    if split_pixels.size and (split_pixels.min() < 0 or split_pixels.max() >= features):
        raise ModelError(f"{path}: split refers to pixel {split_pixels.max()} of {features}")
    shape_lt = (levels, trees_per_level)
    return {
        "initial_shape": initial.astype(np.float32),
        "split_pixels": split_pixels.reshape(*shape_lt, splits_per_tree, 2),
        "split_thresh": np.asarray(thresholds, np.float32).reshape(*shape_lt, splits_per_tree),
        "leaf_values": np.asarray(leaves, np.float32).reshape(
            *shape_lt, splits_per_tree + 1, initial.size
        ),
        "anchor": np.asarray(anchors, dtype=np.int32),
        "deltas": np.asarray(deltas, dtype=np.float32).reshape(levels, features, 2),
    }


def _read_nested(reader: DlibReader, levels: int, what: str, read: object) -> list[list[float]]:
    start = reader.offset
    if reader.read_count(f"{what} level", 1000) != levels:
        raise reader.error(f"{what} lists do not match the {levels} cascade levels", start)
    out = []
    for _ in range(levels):
        count = reader.read_count(what, 1 << 20)
        out.append(list(read(count)))  # type: ignore[operator]
    return out


def write_npz_bytes(arrays: dict[str, npt.NDArray[np.generic]]) -> bytes:
    """An .npz (readable by np.load) whose bytes depend only on the arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in NPZ_KEYS:
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]))
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def convert_shape_predictor(dat_path: Path) -> bytes:
    """The .npz bytes for a shape predictor .dat file (same bytes on every run)."""
    return write_npz_bytes(read_shape_predictor(dat_path))


# ------------------------------------------------------------------------------- evaluation
def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def dlib_rect(box: Box) -> tuple[int, int, int, int]:
    """dlib's inclusive integer rectangle (left, top, right, bottom) for an exclusive Box."""
    if not all(math.isfinite(v) for v in (box.left, box.top, box.right, box.bottom)):
        raise InputError(f"box has non-finite coordinates: {box}")
    return (
        _round_half_up(box.left),
        _round_half_up(box.top),
        _round_half_up(box.right) - 1,
        _round_half_up(box.bottom) - 1,
    )


def _similarity_2x2(centred_reference: F64, variance: float, current: F32) -> F32:
    """Scale-rotation part of the least-squares similarity reference -> current (Umeyama).

    In 2-D the solution has the form [[a, -b], [b, a]]; it is solved in float64 like dlib
    and used in float32 like dlib's shape predictor. ``centred_reference`` is the reference
    shape (P, 2) minus its mean and ``variance`` its sum of squares.
    """
    dst = current.reshape(-1, 2).astype(np.float64)
    dst = dst - dst.mean(axis=0)
    if variance == 0.0:
        return np.eye(2, dtype=np.float32)
    cov = dst.T @ centred_reference  # sum of outer products (to - mean) (from - mean)^T
    if cov[0, 0] * cov[1, 1] - cov[0, 1] * cov[1, 0] < 0:
        # Reflection: the general SVD formula (dlib flips the smaller singular value).
        n = len(dst)
        u, d, vt = np.linalg.svd(cov / n)
        s = np.diag([1.0, -1.0]) if d[1] < d[0] else np.diag([-1.0, 1.0])
        scale = float(np.trace(np.diag(d) @ s)) / (variance / n)
        reflected: F32 = (scale * (u @ s @ vt)).astype(np.float32)
        return reflected
    a = (cov[0, 0] + cov[1, 1]) / variance
    b = (cov[1, 0] - cov[0, 1]) / variance
    return np.asarray([[a, -b], [b, a]], dtype=np.float32)


class ShapePredictor5:
    """dlib's 5-point landmark model evaluated in numpy (implements ``LandmarkModel``).

    Points in dlib's order: 0, 1 = outer and inner corner of the eye on the image's right
    side; 2, 3 = outer and inner corner of the eye on the image's left side; 4 = base of the
    nose. ``integer_points`` rounds like dlib (whose output points are whole pixels).
    """

    def __init__(self, npz_path: Path, integer_points: bool = True) -> None:
        try:
            with np.load(Path(npz_path), allow_pickle=False) as data:
                arrays = {key: data[key] for key in NPZ_KEYS}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelError(f"cannot load shape predictor {npz_path}: {exc}") from exc
        initial = arrays["initial_shape"].astype(np.float32)
        pixels = arrays["split_pixels"]
        leaves = arrays["leaf_values"]
        anchor = arrays["anchor"]
        deltas = arrays["deltas"]
        if pixels.ndim != 4 or pixels.shape[3] != 2 or anchor.ndim != 2:
            raise ModelError(f"shape predictor {npz_path}: arrays have inconsistent shapes")
        levels, trees, splits, _ = pixels.shape
        if (
            leaves.shape != (levels, trees, splits + 1, initial.size)
            or arrays["split_thresh"].shape != (levels, trees, splits)
            or anchor.shape[0] != levels
            or deltas.shape != (*anchor.shape, 2)
        ):
            raise ModelError(f"shape predictor {npz_path}: arrays have inconsistent shapes")
        self.num_points = initial.size // 2
        self.integer_points = integer_points
        self._initial = initial
        reference = initial.reshape(-1, 2).astype(np.float64)
        self._centred_reference = reference - reference.mean(axis=0)
        self._variance = float(np.sum(self._centred_reference**2))
        # Flat per-level tables: node k of tree t is entry t * splits + k, leaf j of tree t
        # is row t * (splits + 1) + j; one np.take per tree depth then serves all trees.
        self._split_a = pixels[..., 0].reshape(levels, -1).astype(np.intp)
        self._split_b = pixels[..., 1].reshape(levels, -1).astype(np.intp)
        self._thresh = arrays["split_thresh"].reshape(levels, -1).astype(np.float32)
        self._leaves = leaves.reshape(levels, trees * (splits + 1), initial.size).astype(np.float32)
        self._anchor_x = (2 * anchor).astype(np.intp)
        self._dx = deltas[..., 0].astype(np.float32)
        self._dy = deltas[..., 1].astype(np.float32)
        self._splits = splits
        self._depth = int(math.log2(splits + 1))
        self._node_base = np.arange(trees, dtype=np.intp) * splits
        # A leaf reached as node index n (counting splits first) is row n - splits + t.
        self._leaf_base = np.arange(trees, dtype=np.intp) * (splits + 1) - splits

    def landmarks(self, image: ImageBGR, box: Box) -> Landmarks5:
        return self.landmarks_in_rect(image, *dlib_rect(box))

    def landmarks_in_rect(
        self, image: ImageBGR, left: int, top: int, right: int, bottom: int
    ) -> Landmarks5:
        """The points for dlib's inclusive rectangle (left, top, right, bottom)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        flat_image = image.reshape(-1, 3)
        # dlib maps the unit square onto the rectangle's corners: p = corner + p * (br - tl).
        scale_x = float(right - left)
        scale_y = float(bottom - top)
        shape = self._initial.copy()
        for level in range(self._anchor_x.shape[0]):
            tform = _similarity_2x2(self._centred_reference, self._variance, shape)
            dx, dy = self._dx[level], self._dy[level]
            anchor_x = self._anchor_x[level]
            # Kept as separate float32 products and sums (no matmul) to round like dlib.
            x = tform[0, 0] * dx + tform[0, 1] * dy + shape.take(anchor_x)
            y = tform[1, 0] * dx + tform[1, 1] * dy + shape.take(anchor_x + 1)
            px = np.floor(left + scale_x * x.astype(np.float64) + 0.5).astype(np.intp)
            py = np.floor(top + scale_y * y.astype(np.float64) + 0.5).astype(np.intp)
            inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
            # Only the sampled pixels are read: (r + g + b) // 3 like dlib's rgb intensity.
            pixels = flat_image.take(np.where(inside, py * width + px, 0), axis=0)
            gray = pixels.sum(axis=1, dtype=np.int32) // 3
            values = np.where(inside, gray, 0).astype(np.float32)
            shape = self._run_forest(level, values, shape)
        points_x = left + scale_x * shape[0::2].astype(np.float64)
        points_y = top + scale_y * shape[1::2].astype(np.float64)
        if self.integer_points:
            points_x = np.floor(points_x + 0.5)
            points_y = np.floor(points_y + 0.5)
        return Landmarks5(
            points=tuple((float(px), float(py)) for px, py in zip(points_x, points_y, strict=True))
        )

    def _run_forest(self, level: int, values: F32, shape: F32) -> F32:
        split_a, split_b, thresh = self._split_a[level], self._split_b[level], self._thresh[level]
        base = self._node_base
        node = np.zeros(len(base), dtype=np.intp)
        for _ in range(self._depth):
            flat = base + node
            go_left = values.take(split_a.take(flat)) - values.take(split_b.take(flat)) > (
                thresh.take(flat)
            )
            node = 2 * node + 2 - go_left  # left child 2i + 1, right child 2i + 2
        leaves = self._leaves[level].take(self._leaf_base + node, axis=0)
        # Sequential float32 accumulation in tree order, starting from the current shape:
        # reducing along axis 0 adds whole rows one after another (no pairwise summation).
        stacked = np.concatenate([shape[None, :], leaves], axis=0)
        summed: F32 = np.add.reduce(stacked, axis=0, dtype=np.float32)
        return summed
