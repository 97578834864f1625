"""gate.images, the one image decoder: sizes from headers before decoding, caps, refusals.

Every refusal is one GateError line naming the source and what is wrong; the declared size
is read without decoding a pixel, so a decompression bomb costs nothing.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gate.errors import DocumentError, ImageError
from gate.images import (
    FILE_LIMITS,
    JPEG,
    JPEG2000,
    PNG,
    PORTRAIT_LIMITS,
    ImageLimits,
    check_declared_size,
    declared_size,
    decode_image,
    image_format,
    load_image,
)


def _pattern(h: int = 120, w: int = 160) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    return np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 3 % 256], axis=2).astype(np.uint8)


def _encode(image: np.ndarray, ext: str, *params: int) -> bytes:
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int) -> bytes:
    """A valid side x side 1-bit PNG of zeros (side a multiple of 1000), a few hundred KB on
    disk: one deflate block ending in a full flush, repeated, and the Adler-32 of zeros."""
    row = 1 + (side + 7) // 8
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = packer.compress(b"\0" * (row * 1000)) + packer.flush(zlib.Z_FULL_FLUSH)
    adler = ((row * side) % 65521) << 16 | 1
    stream = b"\x78\xda" + piece * (side // 1000) + b"\x03\x00" + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", stream)
        + _png_chunk(b"IEND", b"")
    )


def _with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its SOF0 frame header changed to declare ``width`` x ``height``."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


# -- what is decoded ------------------------------------------------------------------------


def test_png_decodes_pixel_exact() -> None:
    image = _pattern()
    np.testing.assert_array_equal(decode_image(_encode(image, ".png"), "p.png"), image)


def test_jpeg_decodes_as_libjpeg_does() -> None:
    jpeg = _encode(_pattern(), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 95)
    decoded = decode_image(jpeg, "p.jpg")
    assert decoded.shape == (120, 160, 3) and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1))


def test_jpeg2000_file_and_codestream_decode_pixel_exact() -> None:
    image = _pattern()
    jp2 = _encode(image, ".jp2", cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000)
    assert image_format(jp2) == JPEG2000 and declared_size(jp2, "x") == (160, 120)
    np.testing.assert_array_equal(decode_image(jp2, "p.jp2", limits=PORTRAIT_LIMITS), image)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image[:, :, ::-1])).save(
        buffer, "JPEG2000", no_jp2=True, irreversible=False
    )
    j2k = buffer.getvalue()
    assert j2k[:4] == b"\xff\x4f\xff\x51" and declared_size(j2k, "x") == (160, 120)
    np.testing.assert_array_equal(decode_image(j2k, "p.j2k", limits=PORTRAIT_LIMITS), image)


@pytest.mark.parametrize(
    ("ext", "params", "kind"),
    [
        (".jpg", [], JPEG),
        (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1], JPEG),
        (".png", [], PNG),
        (".jp2", [], JPEG2000),
        (".webp", [], None),
        (".bmp", [], None),
    ],
)
def test_declared_size_agrees_with_pillow_without_decoding(
    ext: str, params: list[int], kind: str | None
) -> None:
    data = _encode(_pattern(77, 131), ext, *params)
    assert image_format(data) == kind
    with Image.open(io.BytesIO(data)) as probe:
        assert declared_size(data, "x") == probe.size == (131, 77)


def test_jpeg_with_exif_thumbnail_reports_the_main_frame() -> None:
    """The APP1 segment holds a whole small JPEG (its own SOF); the main frame's size counts."""
    thumb = _encode(_pattern(40, 50), ".jpg")
    main = _encode(_pattern(), ".jpg")
    app1 = b"\xff\xe1" + struct.pack(">H", len(thumb) + 2 + 6) + b"Exif\0\0" + thumb
    data = main[:2] + app1 + main[2:]
    assert declared_size(data, "x") == (160, 120)
    assert decode_image(data, "x").shape == (120, 160, 3)


# -- what is refused ------------------------------------------------------------------------


def test_png_bomb_refused_from_its_header() -> None:
    bomb = png_bomb(60000)
    assert len(bomb) < 512 * 1024  # 450 MB once inflated, 3.6 gigapixels once decoded
    with pytest.raises(ImageError) as caught:
        decode_image(bomb, "bomb.png")
    assert str(caught.value) == (
        "bomb.png: image declares 60000x60000 (3600.0 megapixels), over the 50-megapixel "
        "limit; refused before decoding"
    )


def test_declared_size_over_the_cap_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a decoder was called")

    monkeypatch.setattr(cv2, "imdecode", never)
    monkeypatch.setattr(Image.Image, "load", never)
    lying = _with_jpeg_size(_encode(_pattern(), ".jpg"), 9000, 6000)
    with pytest.raises(ImageError, match=r"^p\.jpg: image declares 9000x6000 \(54\.0 mega"):
        decode_image(lying, "p.jpg")
    small = _encode(_pattern(), ".jpg")
    with pytest.raises(DocumentError, match=r"^DG2: image declares 160x120 .* 0-megapixel"):
        check_declared_size(
            small, "DG2", limits=ImageLimits(1 << 20, 160 * 120 - 1), error=DocumentError
        )
    assert check_declared_size(small, "DG2", limits=PORTRAIT_LIMITS) == (160, 120)


def test_jpeg2000_declaring_too_many_pixels_is_refused() -> None:
    jp2 = bytearray(_encode(_pattern(), ".jp2"))
    ihdr = jp2.index(b"ihdr") + 4
    jp2[ihdr : ihdr + 8] = struct.pack(">II", 5000, 5000)  # height, width
    with pytest.raises(DocumentError, match=r"^DG2: image declares 5000x5000 \(25\.0 mega"):
        decode_image(bytes(jp2), "DG2", limits=PORTRAIT_LIMITS, error=DocumentError)


def test_bytes_over_the_cap() -> None:
    data = _encode(_pattern(), ".png")
    limits = ImageLimits(max_bytes=len(data) - 1, max_pixels=FILE_LIMITS.max_pixels)
    with pytest.raises(ImageError, match=rf"^p\.png: {len(data)} bytes, over the {len(data) - 1}-"):
        decode_image(data, "p.png", limits=limits)


def test_bytes_over_the_cap_refused_by_the_file_reader(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_encode(_pattern(), ".png"))
    with pytest.raises(ImageError, match=r"big\.png: \d+ bytes, over the 100-byte limit"):
        load_image(path, limits=ImageLimits(max_bytes=100, max_pixels=10**6))


def test_empty() -> None:
    with pytest.raises(ImageError, match=r"^e\.jpg: empty file \(0 bytes\)$"):
        decode_image(b"", "e.jpg")


def test_zero_sized_picture() -> None:
    with pytest.raises(ImageError, match=r"^z\.jpg: image declares 0x120 pixels, an empty"):
        decode_image(_with_jpeg_size(_encode(_pattern(), ".jpg"), 0, 120), "z.jpg")


def test_truncated_jpeg_mid_scan(capfd: pytest.CaptureFixture[str]) -> None:
    """libjpeg would fill the missing part with grey and warn on stderr: refused instead."""
    whole = _encode(_pattern(240, 320), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 95)
    cut = whole[: len(whole) * 2 // 3]
    with pytest.raises(ImageError, match=r"^cut\.jpg: the JPEG image cannot be decoded \(trunc"):
        decode_image(cut, "cut.jpg")
    assert capfd.readouterr().err == ""


def test_truncated_png_and_jpeg2000() -> None:
    for ext in (".png", ".jp2"):
        whole = _encode(_pattern(240, 320), ext)
        with pytest.raises(ImageError, match=r"^cut: "):
            decode_image(whole[: len(whole) // 2], "cut")


def test_header_cut_short() -> None:
    png = _encode(_pattern(), ".png")
    with pytest.raises(ImageError, match=r"^h: the PNG image cannot be decoded \(its header"):
        decode_image(png[:14], "h")


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"\x00\xff\x13\x80" * 10, "unknown format, first bytes 00 ff 13 80"),
        (b"just some words\n", "the content is text"),
        (b"GIF89a" + b"\x00" * 3, "unknown format, first bytes 47 49 46"),
    ],
)
def test_garbage(data: bytes, detail: str) -> None:
    with pytest.raises(ImageError, match=rf"^g: not a readable image \({detail}"):
        decode_image(data, "g")


def test_portrait_limits_take_only_jpeg_and_jpeg2000() -> None:
    png = _encode(_pattern(), ".png")
    assert decode_image(png, "ok").shape == (120, 160, 3)
    with pytest.raises(DocumentError, match=r"^DG2: not a JPEG or JPEG 2000 image"):
        decode_image(png, "DG2", limits=PORTRAIT_LIMITS, error=DocumentError)


# -- files: through the hardened reader -----------------------------------------------------


@pytest.mark.timeout(30)
def test_fifo_and_folder_refused_by_the_hardened_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "frame.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match=r"frame\.jpg: it is a FIFO \(named pipe\)"):
        load_image(fifo)
    with pytest.raises(DocumentError, match=r"it is a directory"):
        load_image(tmp_path, error=DocumentError)


def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    """Such a name is a str with surrogates; handed to cv2.imread it crashed the process."""
    image = _pattern()
    path = tmp_path / os.fsdecode(b"caf\xe9.png")
    path.write_bytes(_encode(image, ".png"))
    np.testing.assert_array_equal(load_image(path), image)
    (tmp_path / os.fsdecode(b"bad\xff.jpg")).write_bytes(b"")
    with pytest.raises(ImageError, match=r"bad\udcff\.jpg: empty file"):
        load_image(tmp_path / os.fsdecode(b"bad\xff.jpg"))


def test_dataset_loaders_refuse_a_bomb_by_name(tmp_path: Path) -> None:
    """The simulator's photo reader and the bench's dataset images use the same decoder."""
    from bench.datasets import ImageRef
    from gate.simulate.faces import read_image

    bomb = tmp_path / os.fsdecode(b"person\xe9") / "bomb.png"
    bomb.parent.mkdir()
    bomb.write_bytes(png_bomb(60000))
    with pytest.raises(ImageError, match=r"person\udce9/bomb\.png: image declares 60000x60000"):
        read_image(bomb)
    with pytest.raises(ImageError, match=r"bomb\.png: image declares 60000x60000"):
        ImageRef("bomb", path=bomb).load()
    with pytest.raises(ImageError, match=r"^pair 3: image declares 60000x60000"):
        ImageRef("pair 3", data=png_bomb(60000)).load()
