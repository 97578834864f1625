"""gate.images on files: every bad input of issue 2 gives an ImageError naming the problem."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gate.errors import ImageError
from gate.images import FILE_LIMITS, ImageLimits, decode_image, load_image
from tests.models.pictures import write_huge_png


def _pattern(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    return np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 3 % 256], axis=2).astype(np.uint8)


def test_missing_path_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"nothere\.jpg: no such file"):
        load_image(tmp_path / "nothere.jpg")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg: empty file \(0 bytes\)"):
        load_image(empty)


def test_text_named_jpg(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture\n")
    with pytest.raises(
        ImageError, match=r"notes\.jpg: not a readable image \(the content is text\)"
    ):
        load_image(text)


def test_binary_garbage_shows_first_bytes() -> None:
    with pytest.raises(ImageError, match="first bytes 00 ff 13"):
        decode_image(b"\x00\xff\x13\x80" * 10, "blob")


def test_webp_named_jpg_decodes_by_content(tmp_path: Path) -> None:
    image = _pattern()
    ok, webp = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 101])  # lossless
    assert ok
    misnamed = tmp_path / "photo.jpg"
    misnamed.write_bytes(webp.tobytes())
    np.testing.assert_array_equal(load_image(misnamed), image)


def test_one_pixel_image_says_its_size(tmp_path: Path) -> None:
    tiny = tmp_path / "dot.png"
    cv2.imwrite(str(tiny), np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(ImageError, match=r"dot\.png: image is 1x1 pixels, too small"):
        load_image(tiny)


def test_huge_image_refused_from_header(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    write_huge_png(huge)
    assert huge.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match=r"12000x12000 \(144\.0 megapixels\), over the 50"):
        load_image(huge)


def test_picture_whose_header_gives_no_size_is_refused_before_decoding() -> None:
    """Radiance HDR: OpenCV would decode it, but no header parser here reads its size, so
    its pixels could be anything: it is refused rather than decoded blind."""
    from PIL import UnidentifiedImageError

    _ok, hdr = cv2.imencode(".hdr", _pattern(100, 100).astype(np.float32) / 255.0)
    assert cv2.imdecode(hdr, cv2.IMREAD_COLOR) is not None
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(hdr.tobytes()))
    with pytest.raises(ImageError, match=r"p\.hdr: not a readable image"):
        decode_image(hdr.tobytes(), "p.hdr")


def test_limit_is_applied_after_decoding_too() -> None:
    limits = ImageLimits(max_bytes=1 << 20, max_pixels=100 * 100 - 1)
    _ok, png = cv2.imencode(".png", _pattern(100, 100))
    with pytest.raises(ImageError, match=r"p\.png: image declares 100x100 .* over the 0-mega"):
        decode_image(png.tobytes(), "p.png", limits=limits)
    assert FILE_LIMITS.max_pixels == 50_000_000


def test_greyscale_png_becomes_bgr(tmp_path: Path) -> None:
    grey = _pattern()[:, :, 0]
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), grey)
    image = load_image(path)
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], grey)


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path: Path) -> None:
    deep = _pattern().astype(np.uint16) * 257  # 8-bit value v -> 16-bit v*257
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), deep)
    np.testing.assert_array_equal(load_image(path), _pattern())


def test_alpha_is_dropped(tmp_path: Path) -> None:
    rgba = np.dstack([_pattern(), np.full((48, 64), 10, np.uint8)])
    path = tmp_path / "alpha.png"
    cv2.imwrite(str(path), rgba)
    np.testing.assert_array_equal(load_image(path), _pattern())


def test_pillow_fallback_for_formats_opencv_lacks() -> None:
    rgb = _pattern()[:, :, ::-1]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, "TGA")
    np.testing.assert_array_equal(decode_image(buffer.getvalue(), "x.tga"), _pattern())


def test_pillow_sixteen_bit_greyscale_fallback() -> None:
    from gate.images import _decode_pillow

    grey16 = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) % 256 * 257).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(grey16).save(buffer, "PNG")
    image = _decode_pillow(buffer.getvalue(), "g16.png", ImageError)
    assert image is not None
    np.testing.assert_array_equal(image[:, :, 1], (grey16 // 257).astype(np.uint8))


def test_jpeg2000_decodes(tmp_path: Path) -> None:
    path = tmp_path / "dg2.jp2"
    ok = cv2.imwrite(str(path), _pattern(), [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000])
    assert ok
    np.testing.assert_array_equal(load_image(path), _pattern())


def test_truncated_jpeg_is_an_image_error(tmp_path: Path) -> None:
    _ok, jpeg = cv2.imencode(".jpg", _pattern(200, 200))
    path = tmp_path / "cut.jpg"
    path.write_bytes(jpeg.tobytes()[:40])
    with pytest.raises(ImageError, match=r"cut\.jpg"):
        load_image(path)


# -- files that are not pictures at all (issue "Safety and integrity", part 6) ------------------


@pytest.mark.timeout(30)
def test_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    """A FIFO with no writer used to block load_image for ever (open() waits for a writer)."""
    fifo = tmp_path / "frame.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match=r"frame\.jpg: it is a FIFO \(named pipe\)"):
        load_image(fifo)


@pytest.mark.timeout(30)
def test_device_is_refused(tmp_path: Path) -> None:
    """/dev/zero never ends: reading it whole used to grow until memory ran out."""
    with pytest.raises(ImageError, match="it is a device"):
        load_image("/dev/zero")


def test_symlink_loop_and_nul_byte_are_image_errors(tmp_path: Path) -> None:
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(ImageError, match=r"loop\.jpg"):
        load_image(loop)
    with pytest.raises(ImageError, match="not a valid path"):
        load_image(str(tmp_path / "a\x00b.jpg"))
