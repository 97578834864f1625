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

import codecs
import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from bench.datasets import (
    Dataset,
    DatasetBuilder,
    ImageRef,
    IntArray,
    cross_identity_pairs,
    same_identity_pairs,
)
from gate.errors import InputError
from gate.files import open_regular_file, read_regular_file

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".jp2", ".tif", ".tiff"})
LFW_ROOT_CANDIDATES = ("images", "lfw", "lfw_funneled", "lfw-deepfunneled", ".")
TRUE_WORDS = frozenset({"1", "true", "yes", "same", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "different", "n", "f", "-1"})
MAX_LIST_BYTES = 256 * 1024 * 1024  # a pairs CSV or pairs.txt (LFW's is 100 kB)
MAX_BIN_BYTES = 4 * 1024**3  # every image of a .bin is held in memory
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
    builder = DatasetBuilder()
    folder = source.parent
    raw = read_regular_file(source, "pairs CSV", max_bytes=MAX_LIST_BYTES, error=InputError)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: cannot read pairs CSV (not UTF-8: {exc.reason})") from exc
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
_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., bytes]] = {
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "bytes"): _plain_bytes,
    ("builtins", "bytearray"): _plain_bytes,
    ("__builtin__", "bytes"): _plain_bytes,  # protocol 0-2 spelling (Python 2 module name)
    ("__builtin__", "bytearray"): _plain_bytes,
}
_ALLOWED_CALLS = tuple(set(_ALLOWED_GLOBALS.values()))
_MAX_TEXT_INT = 20  # digits of a protocol-0 int (flags, memo keys)


class _DataOnlyUnpickler:
    """A pickle machine that knows only what an InsightFace ``.bin`` is written with: lists,
    tuples, bytes, str (as arguments of the allowed calls), bools, small ints, None, the
    memo and the calls in ``_ALLOWED_GLOBALS``. Any other opcode is refused, every length is
    checked against the bytes left in the file before anything is allocated, and nothing
    recurses. Errors are ``InputError`` naming the problem (the caller adds the file)."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self._left = size  # bytes not read yet: no declared length may exceed them
        self._stack: list[Any] = []
        self._marks: list[int] = []
        self._memo: dict[int, Any] = {}
        u = self._uint
        self._ops: dict[bytes, Callable[[], None]] = {
            b"\x80": self._proto,
            b"\x95": lambda: self._discard(8),  # FRAME: a read-ahead hint, nothing to build
            b"(": lambda: self._marks.append(len(self._stack)),
            b")": lambda: self._push(()),
            b"t": lambda: self._push(tuple(self._pop_mark())),
            b"\x85": lambda: self._push(self._pop_tuple(1)),
            b"\x86": lambda: self._push(self._pop_tuple(2)),
            b"\x87": lambda: self._push(self._pop_tuple(3)),
            b"]": lambda: self._push([]),
            b"l": lambda: self._push(self._pop_mark()),
            b"a": self._append,
            b"e": self._appends,
            b"C": lambda: self._push(self._read(u(1))),
            b"B": lambda: self._push(self._read(u(4))),
            b"\x8e": lambda: self._push(self._read(u(8))),
            b"\x96": lambda: self._push(self._read(u(8))),  # BYTEARRAY8, kept as bytes
            b"U": lambda: self._push(self._read(u(1))),  # Python 2 str: bytes
            b"T": lambda: self._push(self._read(u(4, signed=True))),
            b"S": lambda: self._push(self._string()),
            b"\x8c": lambda: self._push(self._read(u(1)).decode("utf-8", "surrogatepass")),
            b"X": lambda: self._push(self._read(u(4)).decode("utf-8", "surrogatepass")),
            b"\x8d": lambda: self._push(self._read(u(8)).decode("utf-8", "surrogatepass")),
            b"V": lambda: self._push(self._line().decode("raw-unicode-escape")),
            b"\x88": lambda: self._push(True),
            b"\x89": lambda: self._push(False),
            b"N": lambda: self._push(None),
            b"K": lambda: self._push(u(1)),
            b"M": lambda: self._push(u(2)),
            b"J": lambda: self._push(u(4, signed=True)),
            b"I": lambda: self._push(self._text_int(bools=True)),
            b"p": lambda: self._put(self._text_int()),
            b"q": lambda: self._put(u(1)),
            b"r": lambda: self._put(u(4)),
            b"\x94": lambda: self._put(len(self._memo)),
            b"g": lambda: self._get(self._text_int()),
            b"h": lambda: self._get(u(1)),
            b"j": lambda: self._get(u(4)),
            b"c": lambda: self._global(self._line().decode(), self._line().decode()),
            b"\x93": self._stack_global,
            b"R": self._reduce,
        }

    def load(self) -> Any:
        while True:
            code = self._read(1)
            if code == b".":
                if self._marks or len(self._stack) != 1:
                    raise InputError(f"the pickle ends with {len(self._stack)} values, not 1")
                return self._stack[0]
            op = self._ops.get(code)
            if op is None:
                raise InputError(f"pickle opcode {code!r} is not allowed in a .bin dataset")
            op()

    # -- arguments
    def _read(self, n: int) -> bytes:
        if not 0 <= n <= self._left:
            raise InputError(f"needs {n} more bytes where the file has {self._left} left")
        data = self._stream.read(n)
        if len(data) != n:
            raise InputError("the file ended early (it changed while being read)")
        self._left -= n
        return data

    def _discard(self, size: int) -> None:
        self._read(size)

    def _uint(self, size: int, signed: bool = False) -> int:
        return int.from_bytes(self._read(size), "little", signed=signed)

    def _line(self) -> bytes:
        line = self._stream.readline(self._left)
        self._left -= len(line)
        if not line.endswith(b"\n"):
            raise InputError("a text argument without its line end")
        return line[:-1]

    def _text_int(self, bools: bool = False) -> int:
        text = self._line()
        if bools and text in (b"00", b"01"):  # how protocols 0 and 1 write False and True
            return text == b"01"
        body = text[1:] if text[:1] in (b"-", b"+") else text
        if not (body.isdigit() and len(body) <= _MAX_TEXT_INT):  # bytes: ASCII digits only
            raise InputError(f"{text[:24]!r} is not a number")
        return int(text)

    def _string(self) -> bytes:  # protocol 0 STRING: a quoted Python 2 str literal
        quoted = self._line()
        if len(quoted) < 2 or quoted[:1] not in (b"'", b'"') or quoted[-1:] != quoted[:1]:
            raise InputError("a STRING argument that is not quoted")
        return codecs.escape_decode(quoted[1:-1])[0]

    def _proto(self) -> None:
        if self._uint(1) > 5:
            raise InputError("pickle protocol above 5")

    # -- the stack
    def _push(self, value: Any) -> None:
        self._stack.append(value)

    def _pop(self) -> Any:
        if len(self._stack) <= (self._marks[-1] if self._marks else 0):
            raise InputError("the pickle takes a value from an empty stack")
        return self._stack.pop()

    def _pop_tuple(self, count: int) -> tuple[Any, ...]:
        values = [self._pop() for _ in range(count)]
        return tuple(reversed(values))

    def _pop_mark(self) -> list[Any]:
        if not self._marks:
            raise InputError("the pickle closes a MARK it never opened")
        start = self._marks.pop()
        items = self._stack[start:]
        del self._stack[start:]
        return items

    def _list_below(self, what: str) -> list[Any]:
        if len(self._stack) <= (self._marks[-1] if self._marks else 0):
            raise InputError(f"the pickle {what} to nothing")
        target = self._stack[-1]
        if type(target) is not list:
            raise InputError(f"the pickle {what} to a {type(target).__name__}, not a list")
        return target

    def _append(self) -> None:
        value = self._pop()
        self._list_below("appends").append(value)

    def _appends(self) -> None:
        values = self._pop_mark()
        self._list_below("appends").extend(values)

    # -- memo and calls
    def _put(self, key: int) -> None:
        if not self._stack:
            raise InputError("the pickle memoizes from an empty stack")
        self._memo[key] = self._stack[-1]

    def _get(self, key: int) -> None:
        if key not in self._memo:
            raise InputError(f"the pickle refers to memo entry {key}, never stored")
        self._push(self._memo[key])

    def _global(self, module: str, name: str) -> None:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise InputError(
                f"refusing pickle global {module[:60]}.{name[:60]}: a .bin dataset may hold "
                "only image bytes and same/different flags"
            )
        self._push(allowed)

    def _stack_global(self) -> None:
        name, module = self._pop(), self._pop()
        if type(module) is not str or type(name) is not str:
            raise InputError("refusing pickle global whose names are not text")
        self._global(module, name)

    def _reduce(self) -> None:
        arguments, call = self._pop(), self._pop()
        # "is", not "in" a set: what the pickle built (a list ...) may not even be hashable
        if not any(call is allowed for allowed in _ALLOWED_CALLS) or type(arguments) is not tuple:
            raise InputError(f"refusing pickle call of a {type(call).__name__}")
        try:
            self._push(call(*arguments))
        except InputError:
            raise
        except (TypeError, ValueError) as exc:  # wrong arity, bytes([300]), "é".encode(...)
            raise InputError(f"refusing pickle call with unexpected arguments ({exc})") from exc


def load_insightface_bin(source: Path) -> Dataset:
    """An InsightFace verification ``.bin``: ``(list of encoded images, list of same flags)``."""
    stream, size = open_regular_file(
        source, "InsightFace .bin", max_bytes=MAX_BIN_BYTES, error=InputError
    )
    try:
        with stream:
            payload = _DataOnlyUnpickler(stream, size).load()
    except (InputError, OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"{source}: not a readable InsightFace .bin ({reason})") from exc
    if not (type(payload) in (tuple, list) and len(payload) == 2):
        raise InputError(f"{source}: expected a pair (images, same flags) in the pickle")
    blobs, flags = payload
    if type(blobs) not in (list, tuple) or type(flags) not in (list, tuple):
        raise InputError(f"{source}: images and same flags must be lists")
    if len(blobs) != 2 * len(flags):
        raise InputError(
            f"{source}: {len(blobs)} images for {len(flags)} pairs (expected two per pair)"
        )
    for index, blob in enumerate(blobs):
        if type(blob) is not bytes:
            raise InputError(f"{source}: image #{index} is {type(blob).__name__}, not bytes")
    builder = DatasetBuilder()
    # One image object may be listed many times (the memo makes that 2 bytes per listing):
    # hash each object once, or a small file could cost hours of hashing.
    refs: dict[int, ImageRef] = {}
    for pair, flag in enumerate(flags):
        if type(flag) not in (bool, int) or flag not in (0, 1):
            shown = repr(flag) if type(flag) in (bool, int) else type(flag).__name__
            raise InputError(f"{source}: same flag #{pair} is {shown[:40]}, not a bool")
        sides = []
        for blob in (blobs[2 * pair], blobs[2 * pair + 1]):
            ref = refs.get(id(blob))
            if ref is None:
                digest = hashlib.sha256(blob).hexdigest()[:16]
                ref = refs[id(blob)] = ImageRef(key=f"bin:{digest}", data=blob)
            sides.append(builder.image(ref))
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
