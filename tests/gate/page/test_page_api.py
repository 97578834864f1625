"""The page API end to end: a rendered page of each format reads back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from gate.errors import DocumentError
from gate.icao.mrz import Mrz
from gate.icao.mrz_format import FORMATS
from gate.page import Degradation, MrzNotFoundError, degrade, read_mrz, render_page


def _mrz(kind: str) -> Mrz:
    return FORMATS[kind](
        surname="MUSTERMANN",
        given_names="ERIKA",
        document_number="C01X00T47",
        issuing_state="D",
        nationality="D",
        birth_date="830812",
        sex="F",
        expiry_date="310731",
    )


def _portrait() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)


@pytest.mark.parametrize("kind", ["td1", "td2", "td3"])
def test_rendered_page_reads_back(kind: str) -> None:
    mrz = _mrz(kind)
    page = render_page(mrz, _portrait())
    assert page.kind == mrz.kind
    box = page.portrait_box
    assert 0 <= box.left < box.right <= page.image.shape[1]
    assert box.bottom <= page.mrz_box.top  # the portrait sits above the MRZ
    turned = degrade(page.image, np.random.default_rng(1), Degradation(rotation=180.0))
    reading = read_mrz(turned)
    assert reading.lines == mrz.lines
    assert reading.valid
    assert reading.kind == mrz.kind
    assert reading.fields["surname"] == "MUSTERMANN"


def test_blank_image_has_no_mrz() -> None:
    with pytest.raises(MrzNotFoundError) as caught:
        read_mrz(np.full((300, 400, 3), 200, np.uint8))
    assert isinstance(caught.value, DocumentError)
    assert "\n" not in str(caught.value)


def test_the_portrait_box_holds_the_portrait() -> None:
    portrait = np.zeros((90, 70, 3), np.uint8)
    portrait[:] = (200, 40, 10)  # a blue that the page prints nowhere else
    page = render_page(_mrz("td3"), portrait)
    box = page.portrait_box
    inside = page.image[
        int(box.top) + 2 : int(box.bottom) - 2, int(box.left) + 2 : int(box.right) - 2
    ]
    assert np.abs(inside.astype(int) - (200, 40, 10)).max() <= 2
    # and nowhere far outside it (the ghost copy is grey and faded)
    bluish = (page.image[..., 0] > 150) & (page.image[..., 2] < 60)
    assert bluish.sum() <= 1.05 * inside.shape[0] * inside.shape[1] + 4 * (box.width + box.height)


def test_degrade_is_repeatable_from_its_seed() -> None:
    page = render_page(_mrz("td1"), _portrait()).image
    first = degrade(page, np.random.default_rng(7))
    again = degrade(page, np.random.default_rng(7))
    other = degrade(page, np.random.default_rng(8))
    assert np.array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_a_quarter_turned_skewed_page_reads() -> None:
    mrz = _mrz("td3")
    spec = Degradation(rotation=93.0, perspective=0.03, blur=0.8, jpeg_quality=60)
    seen = degrade(render_page(mrz, _portrait()).image, np.random.default_rng(2), spec)
    reading = read_mrz(seen)
    assert reading.lines == mrz.lines and reading.valid


@pytest.mark.parametrize("kind", ["td2", "td3"])
def test_a_page_under_strong_glare_reads(kind: str) -> None:
    # a lamp's spot leaves the print a fifth of its contrast: the locator's first look
    # loses the lines' ends, its second (contrast evened out) finds them whole
    mrz = _mrz(kind)
    spec = Degradation(glare=0.78, noise=4.0)
    seen = degrade(render_page(mrz, _portrait()).image, np.random.default_rng(25), spec)
    reading = read_mrz(seen)
    assert reading.lines == mrz.lines and reading.valid
