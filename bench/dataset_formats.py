"""Reading a verification dataset: ``load_dataset`` and the per-format readers.

The format is recognised from the path:

- ``*.csv`` (``load_pairs_csv``): pairs CSV with the header ``left,right,same`` (more columns
  allowed), image paths relative to the CSV's folder;
- ``*.txt`` (``load_lfw_pairs``): an LFW ``pairs.txt`` (``name i j`` / ``name1 i name2 j``),
  images under ``<root>/<Name>/<Name>_<NNNN>.jpg``; the root is ``--root`` or found beside
  the file;
- ``*.bin`` (``load_insightface_bin``): an InsightFace verification file (a pickle of image
  bytes and same flags), read with an unpickler that builds nothing but lists, tuples, bytes,
  bools and ints;
- a folder (``load_identity_folders``): one sub-folder per identity; every genuine pair plus
  seeded impostor pairs.

The readers build ``bench.datasets`` values; that module never imports this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.datasets import (
    Dataset,
    DatasetBuilder,
    ImageRef,
    IntArray,
    cross_identity_pairs,
    same_identity_pairs,
)
from gate.csv_files import load_csv
from gate.errors import InputError
from gate.files import read_regular_file

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".jp2", ".tif", ".tiff"})
LFW_ROOT_CANDIDATES = ("images", "lfw", "lfw_funneled", "lfw-deepfunneled", ".")
TRUE_WORDS = frozenset({"1", "true", "yes", "same", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "different", "n", "f", "-1"})
MAX_LIST_BYTES = 256 * 1024 * 1024  # a pairs CSV or pairs.txt (LFW's is 100 kB)
MAX_IMAGE_NUMBER_DIGITS = 6  # LFW numbers images _0001 to at most _0530


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
        from bench.insightface_bin import load_insightface_bin

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
    missing = [ref for ref in images if ref.path is not None and not ref.path.is_file()]
    if missing:
        shown = ", ".join(ref.key for ref in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        # The first one in full, so the line says where they were looked for (--root).
        raise InputError(
            f"{source}: {len(missing)} image(s) not found: {shown}{more} "
            f"(the first looked for as {missing[0].path})"
        )


def load_pairs_csv(source: Path) -> Dataset:
    """Pairs CSV; identities are taken from the images' folder names when they fit the pairs."""
    builder = DatasetBuilder()
    folder = source.parent
    rows = load_csv(source, "pairs CSV", max_bytes=MAX_LIST_BYTES, error=InputError)
    missing = {"left", "right", "same"} - set(rows.header)
    if missing:
        raise InputError(
            f"{source}: pairs CSV lacks column(s) {', '.join(sorted(missing))} "
            "(header must hold left,right,same)"
        )
    for line, row in rows:
        refs = []
        for side in ("left", "right"):
            value = row.get(side, "").strip()
            if not value:
                raise InputError(f"{source}:{line}: column '{side}' is empty")
            path = (folder / value) if not Path(value).is_absolute() else Path(value)
            refs.append((ImageRef(key=value, path=path), path.parent.name))
        same = _parse_same(row.get("same", ""), source, line)
        builder.pair(builder.image(*refs[0]), builder.image(*refs[1]), same)
    _require_files(builder.images, source)
    known, note = _folders_fit_pairs(builder)
    return builder.build(source, "pairs-csv", known, note)


def _folders_fit_pairs(builder: DatasetBuilder) -> tuple[bool, str]:
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


def _is_number(text: str) -> bool:
    # str.isdigit() also takes '²' and '٣'; an LFW number is ASCII digits only.
    return text.isascii() and text.isdigit() and len(text) <= MAX_IMAGE_NUMBER_DIGITS


def _lfw_file(name: str, number: str, source: Path, line: int) -> str:
    if not _is_number(number):
        raise InputError(f"{source}:{line}: image number must be an integer, got {number!r}")
    return f"{name}/{name}_{int(number):04d}.jpg"


def load_lfw_pairs(source: Path, root: str | Path | None = None) -> Dataset:
    """LFW protocol file: header ``folds<TAB>n`` or ``n``, then matched/mismatched lines."""
    content = read_regular_file(
        source, "LFW pairs file", max_bytes=MAX_LIST_BYTES, error=InputError
    )
    try:
        lines = content.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: cannot read LFW pairs file (not UTF-8: {exc.reason})") from exc
    entries: list[tuple[str, str, str, str, bool]] = []
    for number, raw in enumerate(lines, start=1):
        tokens = raw.split()
        if not tokens:
            continue
        if number == 1 and len(tokens) <= 2 and all(_is_number(t) for t in tokens):
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
    builder = DatasetBuilder()
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
    builder = DatasetBuilder()
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


def _concat(chunks: Iterator[tuple[IntArray, IntArray]]) -> tuple[IntArray, IntArray]:
    lefts, rights = [], []
    for left, right in chunks:
        lefts.append(left)
        rights.append(right)
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)
