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
