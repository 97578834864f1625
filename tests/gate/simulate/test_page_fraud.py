"""The simulator's page-fraud travellers (issue 22): an ``mrz_mismatch`` page names another
holder than DG1 in a field outside the access key; a ``substituted_photo`` page prints the
face in the lane, not DG2's; with ``ocr_pages`` every page is handed over as an image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivers.chip.passport_folder import MANIFEST
from gate.clock import SimulatedClock
from gate.fakes import fake_photo
from gate.icao.mrz import parse_mrz
from gate.simulate.pki import TestPki, init_pki
from gate.simulate.scenario import EXPECTED_DECISION, TravellerSpec
from gate.simulate.travellers import ALTERED_SURNAME, Travellers


class _Photos:
    """Each name's photo a flat picture of its own (no face engine needed)."""

    def chip_photo(self, name: str) -> Any:
        return np.repeat(np.repeat(fake_photo(int(name[-1]), size=8), 40, 0), 32, 1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("pki"))


def _issue(pki: TestPki, tmp_path: Path, kind: str, ocr_pages: bool = False) -> Any:
    travellers = Travellers(_Photos(), pki, tmp_path, SimulatedClock(), seed=3, frames=1,  # type: ignore[arg-type]
                            ocr_pages=ocr_pages)  # fmt: skip
    live = "face-2" if kind == "substituted_photo" else None
    spec = TravellerSpec(kind, "face-1", EXPECTED_DECISION[kind], live_photo=live)
    return travellers.issue(4, spec)


def test_an_mrz_mismatch_page_differs_from_dg1_in_the_name_only(
    pki: TestPki, tmp_path: Path
) -> None:
    issued = _issue(pki, tmp_path, "mrz_mismatch")
    manifest = json.loads((tmp_path / "passports" / "004" / MANIFEST).read_text())
    chip = parse_mrz(manifest["mrz"])  # DG1's, as issued
    page = parse_mrz(issued.printed_mrz)
    assert page.surname == ALTERED_SURNAME != chip.surname
    assert page.bac_key_seed_input() == chip.bac_key_seed_input()  # the chip still opens
    assert issued.page is None  # the scanner's text: no image needed for this fraud


def test_a_substituted_photo_page_prints_the_face_in_the_lane(
    pki: TestPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gate.page

    printed: list[Any] = []
    render = gate.page.render_page

    def spy(mrz: Any, portrait: Any, **options: Any) -> Any:
        printed.append(portrait)
        return render(mrz, portrait, **options)

    monkeypatch.setattr(gate.page, "render_page", spy)
    issued = _issue(pki, tmp_path, "substituted_photo")
    assert issued.page is not None and issued.printed_mrz  # the text, and the page's image
    (portrait,) = printed
    assert np.array_equal(portrait, _Photos().chip_photo("face-2"))  # the one in the lane


def test_with_ocr_pages_the_page_comes_as_an_image_only(pki: TestPki, tmp_path: Path) -> None:
    issued = _issue(pki, tmp_path, "genuine", ocr_pages=True)
    assert issued.printed_mrz == "" and issued.page is not None
    assert issued.page.shape[1] > issued.page.shape[0] > 400  # a TD3 page, seen by the reader
