"""Verification datasets: unique images plus the pairs a protocol lists, from four formats.

The format is recognised from the path:

- ``*.csv``: pairs CSV with the header ``left,right,same`` (more columns allowed), image
  paths relative to the CSV's folder;
- ``*.txt``: an LFW ``pairs.txt`` (``name i j`` / ``name1 i name2 j``), images under
  ``<root>/<Name>/<Name>_<NNNN>.jpg``; the root is ``--root`` or found beside the file;
- ``*.bin``: an InsightFace verification file (a pickle of image bytes and same flags), read
  with an unpickler that builds nothing but lists, tuples, bytes, bools and ints;
- a folder: one sub-folder per identity; every genuine pair plus seeded impostor pairs.

Each image is listed once, so a harness embeds it once. Where the people are known, each
image carries an identity code so impostor pairs can be expanded across identities
(``cross_identity_pairs``) without a Python loop per pair.
"""

from __future__ import annotations

import csv
import hashlib
import io
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.errors import ImageError, InputError
from gate.types import ImageBGR

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".jp2", ".tif", ".tiff"})
LFW_ROOT_CANDIDATES = ("images", "lfw", "lfw_funneled", "lfw-deepfunneled", ".")
TRUE_WORDS = frozenset({"1", "true", "yes", "same", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "different", "n", "f", "-1"})
# Pairs per chunk when expanding impostors: bounds memory at ~2 x 8 bytes x this.
CHUNK_PAIRS = 1_000_000


@dataclass(frozen=True)
class ImageRef:
    """One unique image of a dataset: a file, or encoded bytes (``.bin`` datasets)."""

    key: str
    path: Path | None = None
    data: bytes | None = None

    def load(self) -> ImageBGR:
        """Decode to BGR uint8; an unusable image raises ``ImageError`` (it failed to acquire)."""
        if self.path is not None:
            return _load_path(self.path)
        if self.data is not None:
            return _decode_bytes(self.data, self.key)
        raise ImageError(f"{self.key}: dataset image has neither a path nor bytes")


def _load_path(path: Path) -> ImageBGR:
    try:
        from models.images import load_image
    except ImportError:  # the face engine's loader is not installed: plain OpenCV
        return _decode_opencv(_read_bytes(path), str(path))
    return load_image(path)


def _decode_bytes(data: bytes, key: str) -> ImageBGR:
    try:
        from models.images import decode_image
    except ImportError:
        return _decode_opencv(data, key)
    return decode_image(data, key)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read image file ({exc.strerror})") from exc


def _decode_opencv(data: bytes, key: str) -> ImageBGR:
    import cv2

    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer.size else None
    if image is None:
        raise ImageError(f"{key}: not a decodable image ({len(data)} bytes)")
    return np.ascontiguousarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class Dataset:
    """Unique images, the listed pairs (indices into ``images``) and, if known, identities."""

    source: Path
    format: str
    images: tuple[ImageRef, ...]
    left: IntArray
    right: IntArray
    same: BoolArray
    identity_codes: IntArray | None  # one code per image; None when people are unknown
    identity_note: str = ""  # why identities are unknown, when they are

    @property
    def pair_count(self) -> int:
        return int(self.same.size)

    @property
    def identity_count(self) -> int:
        return 0 if self.identity_codes is None else int(np.unique(self.identity_codes).size)

    def describe(self) -> dict[str, object]:
        return {
            "source": str(self.source),
            "format": self.format,
            "images": len(self.images),
            "pairs": self.pair_count,
            "genuine_pairs": int(np.count_nonzero(self.same)),
            "impostor_pairs": int(np.count_nonzero(~self.same)),
            "identities": self.identity_count if self.identity_codes is not None else None,
        }


class _Builder:
    """Collects unique images and pairs in order of first appearance."""

    def __init__(self) -> None:
        self.images: list[ImageRef] = []
        self.identities: list[str] = []
        self._index: dict[str, int] = {}
        self.left: list[int] = []
        self.right: list[int] = []
        self.same: list[bool] = []

    def image(self, ref: ImageRef, identity: str = "") -> int:
        found = self._index.get(ref.key)
        if found is None:
            found = len(self.images)
            self._index[ref.key] = found
            self.images.append(ref)
            self.identities.append(identity)
        return found

    def pair(self, left: int, right: int, same: bool) -> None:
        self.left.append(left)
        self.right.append(right)
        self.same.append(same)

    def build(self, source: Path, fmt: str, identities_known: bool, note: str = "") -> Dataset:
        if not self.same:
            raise InputError(f"{source}: the dataset lists no pairs")
        codes: IntArray | None = None
        if identities_known:
            _, inverse = np.unique(np.asarray(self.identities, dtype=object), return_inverse=True)
            codes = inverse.astype(np.int64)
        return Dataset(
            source=source,
            format=fmt,
            images=tuple(self.images),
            left=np.asarray(self.left, dtype=np.int64),
            right=np.asarray(self.right, dtype=np.int64),
            same=np.asarray(self.same, dtype=np.bool_),
            identity_codes=codes,
            identity_note=note,
        )


def load_dataset(
    path: str | Path,
    root: str | Path | None = None,
    seed: int = 0,
    impostors_per_folder_set: int | None = None,
) -> Dataset:
    """Read any supported format, recognised from ``path`` (see the module docstring)."""
    source = Path(path)
    if not source.exists():
        raise InputError(f"{source}: dataset path does not exist")
    if source.is_dir():
        return load_identity_folders(source, seed=seed, impostors=impostors_per_folder_set)
    suffix = source.suffix.lower()
    if suffix == ".csv":
        return load_pairs_csv(source)
    if suffix == ".txt":
        return load_lfw_pairs(source, root)
    if suffix == ".bin":
        return load_insightface_bin(source)
    raise InputError(
        f"{source}: unknown dataset format (expected a .csv, an LFW pairs .txt, "
        "an InsightFace .bin or a folder of identity folders)"
    )


def _parse_same(value: str, source: Path, line: int) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InputError(f"{source}:{line}: column 'same' must be 1/0 or true/false, got {value!r}")


def _require_files(images: list[ImageRef], source: Path) -> None:
    missing = [ref.key for ref in images if ref.path is not None and not ref.path.is_file()]
    if missing:
        shown = ", ".join(missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise InputError(f"{source}: {len(missing)} image(s) not found: {shown}{more}")


def load_pairs_csv(source: Path) -> Dataset:
    """Pairs CSV; identities are taken from the images' folder names when they fit the pairs."""
    builder = _Builder()
    folder = source.parent
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: cannot read pairs CSV ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip() for name in (reader.fieldnames or [])}
    missing = {"left", "right", "same"} - columns
    if missing:
        raise InputError(
            f"{source}: pairs CSV lacks column(s) {', '.join(sorted(missing))} "
            "(header must hold left,right,same)"
        )
    for row in reader:
        row = {(k or "").strip(): (v or "") for k, v in row.items()}
        line = reader.line_num
        refs = []
        for side in ("left", "right"):
            value = row[side].strip()
            if not value:
                raise InputError(f"{source}:{line}: column '{side}' is empty")
            path = (folder / value) if not Path(value).is_absolute() else Path(value)
            refs.append((ImageRef(key=value, path=path), path.parent.name))
        same = _parse_same(row["same"], source, line)
        builder.pair(builder.image(*refs[0]), builder.image(*refs[1]), same)
    _require_files(builder.images, source)
    known, note = _folders_fit_pairs(builder)
    return builder.build(source, "pairs-csv", known, note)


def _folders_fit_pairs(builder: _Builder) -> tuple[bool, str]:
    """Folder names identify people only if every listed pair agrees with them."""
    ids = builder.identities
    for left, right, same in zip(builder.left, builder.right, builder.same, strict=True):
        if (ids[left] == ids[right]) != same:
            return False, (
                "image folder names do not identify people (a listed pair disagrees: "
                f"{builder.images[left].key} / {builder.images[right].key})"
            )
    return True, ""


def _find_lfw_root(source: Path, first_image: str) -> Path:
    for candidate in LFW_ROOT_CANDIDATES:
        root = source.parent / candidate
        if (root / first_image).is_file():
            return root
    tried = ", ".join(str(source.parent / c) for c in LFW_ROOT_CANDIDATES)
    raise InputError(f"{source}: no image root found for {first_image} (tried {tried}; use --root)")


def _lfw_file(name: str, number: str, source: Path, line: int) -> str:
    if not number.isdigit():
        raise InputError(f"{source}:{line}: image number must be an integer, got {number!r}")
    return f"{name}/{name}_{int(number):04d}.jpg"


def load_lfw_pairs(source: Path, root: str | Path | None = None) -> Dataset:
    """LFW protocol file: header ``folds<TAB>n`` or ``n``, then matched/mismatched lines."""
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: cannot read LFW pairs file ({exc})") from exc
    entries: list[tuple[str, str, str, str, bool]] = []
    for number, raw in enumerate(lines, start=1):
        tokens = raw.split()
        if not tokens:
            continue
        if number == 1 and len(tokens) <= 2 and all(t.isdigit() for t in tokens):
            continue  # the header: number of folds and pairs per fold
        if len(tokens) == 3:
            name, i, j = tokens
            entries.append(
                (
                    name,
                    _lfw_file(name, i, source, number),
                    name,
                    _lfw_file(name, j, source, number),
                    True,
                )
            )
        elif len(tokens) == 4:
            name1, i, name2, j = tokens
            entries.append(
                (
                    name1,
                    _lfw_file(name1, i, source, number),
                    name2,
                    _lfw_file(name2, j, source, number),
                    False,
                )
            )
        else:
            raise InputError(
                f"{source}:{number}: expected 'name i j' or 'name1 i name2 j', "
                f"got {len(tokens)} fields"
            )
    if not entries:
        raise InputError(f"{source}: the LFW pairs file lists no pairs")
    image_root = Path(root) if root is not None else _find_lfw_root(source, entries[0][1])
    builder = _Builder()
    for name1, file1, name2, file2, same in entries:
        left = builder.image(ImageRef(key=file1, path=image_root / file1), name1)
        right = builder.image(ImageRef(key=file2, path=image_root / file2), name2)
        builder.pair(left, right, same)
    _require_files(builder.images, source)
    return builder.build(source, "lfw-pairs", identities_known=True)


def load_identity_folders(source: Path, seed: int = 0, impostors: int | None = None) -> Dataset:
    """Every genuine pair within each identity folder, plus seeded impostor pairs.

    ``impostors`` defaults to as many impostor pairs as genuine ones (or all there are).
    """
    builder = _Builder()
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        for file in sorted(folder.iterdir()):
            if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
                key = str(file.relative_to(source))
                builder.image(ImageRef(key=key, path=file), folder.name)
    if not builder.images:
        raise InputError(f"{source}: no identity folders holding images (.jpg, .png ...)")
    _, inverse = np.unique(np.asarray(builder.identities, dtype=object), return_inverse=True)
    codes = inverse.astype(np.int64)
    gen_left, gen_right = same_identity_pairs(codes)
    wanted = gen_left.size if impostors is None else impostors
    imp_left, imp_right = _concat(cross_identity_pairs(codes, wanted, seed))
    for left, right, same in (
        (gen_left, gen_right, True),
        (imp_left, imp_right, False),
    ):
        builder.left.extend(left.tolist())
        builder.right.extend(right.tolist())
        builder.same.extend([same] * int(left.size))
    if not builder.same:
        raise InputError(f"{source}: needs two images of one identity or two identities")
    return builder.build(source, "identity-folders", identities_known=True)


def _latin1_bytes(text: str = "", encoding: str = "latin1") -> bytes:
    """How protocol-2 pickles spell ``bytes``: ``_codecs.encode(text, "latin1")``; only that."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise InputError(f"refusing pickle call _codecs.encode(..., {encoding!r})")
    return text.encode("latin1")


def _plain_bytes(value: object = b"", *args: object) -> bytes:
    if args or not isinstance(value, (bytes, bytearray, list)):
        raise InputError("refusing pickle call bytes(...) with unexpected arguments")
    return bytes(value)


# The only callables a .bin pickle may name: the ones pickle itself uses to write bytes.
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "bytes"): _plain_bytes,
    ("builtins", "bytearray"): _plain_bytes,
    ("__builtin__", "bytes"): _plain_bytes,  # protocol 0-2 spelling (Python 2 module name)
    ("__builtin__", "bytearray"): _plain_bytes,
}


class _DataOnlyUnpickler(pickle.Unpickler):
    """Builds only lists, tuples, bytes, bools, ints and None; every other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        raise InputError(
            f"refusing pickle global {module}.{name}: a .bin dataset may hold only "
            "image bytes and same/different flags"
        )


def load_insightface_bin(source: Path) -> Dataset:
    """An InsightFace verification ``.bin``: ``(list of encoded images, list of same flags)``."""
    try:
        with source.open("rb") as stream:
            payload = _DataOnlyUnpickler(stream, encoding="bytes").load()
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from exc
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise InputError(f"{source}: not a readable InsightFace .bin ({exc})") from exc
    if not (isinstance(payload, (tuple, list)) and len(payload) == 2):
        raise InputError(f"{source}: expected a pair (images, same flags) in the pickle")
    blobs, flags = payload
    if not isinstance(blobs, (list, tuple)) or not isinstance(flags, (list, tuple)):
        raise InputError(f"{source}: images and same flags must be lists")
    if len(blobs) != 2 * len(flags):
        raise InputError(
            f"{source}: {len(blobs)} images for {len(flags)} pairs (expected two per pair)"
        )
    builder = _Builder()
    for index, blob in enumerate(blobs):
        if not isinstance(blob, (bytes, bytearray)):
            raise InputError(f"{source}: image #{index} is {type(blob).__name__}, not bytes")
    for pair, flag in enumerate(flags):
        if not isinstance(flag, (bool, int)) or int(flag) not in (0, 1):
            raise InputError(f"{source}: same flag #{pair} is {flag!r}, not a bool")
        sides = []
        for blob in (blobs[2 * pair], blobs[2 * pair + 1]):
            digest = hashlib.sha256(blob).hexdigest()[:16]
            sides.append(builder.image(ImageRef(key=f"bin:{digest}", data=bytes(blob))))
        builder.pair(sides[0], sides[1], bool(flag))
    return builder.build(
        source,
        "insightface-bin",
        identities_known=False,
        note="a .bin file lists pairs only: the people behind the images are unknown",
    )


def _concat(chunks: Iterator[tuple[IntArray, IntArray]]) -> tuple[IntArray, IntArray]:
    lefts, rights = [], []
    for left, right in chunks:
        lefts.append(left)
        rights.append(right)
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)


def _groups(codes: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Images sorted by identity: the order, and per sorted position its group start/end."""
    order = np.argsort(codes, kind="stable").astype(np.int64)
    sorted_codes = codes[order]
    n = sorted_codes.size
    boundaries = np.flatnonzero(np.diff(sorted_codes)) + 1
    starts = np.concatenate(([0], boundaries)).astype(np.int64)
    ends = np.concatenate((boundaries, [n])).astype(np.int64)
    sizes = ends - starts
    return order, np.repeat(starts, sizes), np.repeat(ends, sizes)


def same_identity_pairs(codes: IntArray) -> tuple[IntArray, IntArray]:
    """Every unordered pair of two images of the same identity (image indices)."""
    order, _, group_end = _groups(np.asarray(codes, dtype=np.int64))
    positions = np.arange(order.size, dtype=np.int64)
    counts = group_end - positions - 1  # partners after p inside its group
    left_pos = np.repeat(positions, counts)
    offsets = np.arange(left_pos.size, dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    right_pos = left_pos + 1 + offsets
    return order[left_pos], order[right_pos]


def count_cross_identity_pairs(codes: IntArray) -> int:
    """How many unordered image pairs have different identities."""
    _, counts = np.unique(np.asarray(codes), return_counts=True)
    n = int(counts.sum())
    return n * (n - 1) // 2 - int((counts * (counts - 1) // 2).sum())


def cross_identity_pairs(
    codes: IntArray, wanted: int | str = "all", seed: int = 0, chunk: int = CHUNK_PAIRS
) -> Iterator[tuple[IntArray, IntArray]]:
    """Impostor pairs across identities, in chunks of image-index arrays.

    ``wanted="all"`` enumerates every cross-identity pair once; an integer draws that many
    distinct pairs without replacement with ``numpy.random.default_rng(seed)`` (all of them
    when fewer exist). Pairs are addressed by a linear index over "p before q, q outside p's
    identity" in identity-sorted order, so no pair is ever rejected or looped over.
    """
    codes = np.asarray(codes, dtype=np.int64)
    order, _, group_end = _groups(codes)
    n = order.size
    counts = n - group_end  # partners of sorted position p: positions group_end[p]..n-1
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1]) if n else 0
    first_index = cumulative - counts
    if total == 0:
        return
    if wanted == "all" or int(wanted) >= total:
        for start in range(0, total, chunk):
            linear = np.arange(start, min(total, start + chunk), dtype=np.int64)
            yield _pairs_from_linear(linear, cumulative, first_index, group_end, order)
        return
    if int(wanted) <= 0:
        return
    rng = np.random.default_rng(seed)
    linear = np.sort(rng.choice(total, size=int(wanted), replace=False)).astype(np.int64)
    for start in range(0, linear.size, chunk):
        part = linear[start : start + chunk]
        yield _pairs_from_linear(part, cumulative, first_index, group_end, order)


def _pairs_from_linear(
    linear: IntArray,
    cumulative: IntArray,
    first_index: IntArray,
    group_end: IntArray,
    order: IntArray,
) -> tuple[IntArray, IntArray]:
    left_pos = np.searchsorted(cumulative, linear, side="right").astype(np.int64)
    right_pos = group_end[left_pos] + (linear - first_index[left_pos])
    return order[left_pos], order[right_pos]


def subset(dataset: Dataset, pairs: int) -> Dataset:
    """A smaller dataset: ``pairs`` listed pairs spread evenly over the list (quick runs).

    Only the images those pairs use are kept; identities carry over.
    """
    if pairs <= 0:
        raise InputError(f"a subset needs at least one pair, got {pairs}")
    if pairs >= dataset.pair_count:
        return dataset
    chosen = np.unique(np.linspace(0, dataset.pair_count - 1, pairs).round().astype(np.int64))
    left, right = dataset.left[chosen], dataset.right[chosen]
    used, inverse = np.unique(np.concatenate((left, right)), return_inverse=True)
    return Dataset(
        source=dataset.source,
        format=dataset.format,
        images=tuple(dataset.images[i] for i in used.tolist()),
        left=inverse[: left.size].astype(np.int64),
        right=inverse[left.size :].astype(np.int64),
        same=dataset.same[chosen],
        identity_codes=None if dataset.identity_codes is None else dataset.identity_codes[used],
        identity_note=dataset.identity_note,
    )
