"""InsightFace verification ``.bin`` files: a pickle of ``(list of encoded images, list of
same flags)``, read by a pickle machine of its own that builds nothing but lists, tuples,
bytes, bools and ints, and checks every declared length against the bytes left in the file
before it reads (a crafted file cannot make it allocate, call or recurse its way around)."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from bench.datasets import Dataset, DatasetBuilder, ImageRef
from gate.errors import InputError
from gate.files import open_regular_file

MAX_BIN_BYTES = 4 * 1024**3  # every image of a .bin is held in memory


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


class DataOnlyUnpickler:
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
            payload = DataOnlyUnpickler(stream, size).load()
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
