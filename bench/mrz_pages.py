"""Seeded documents and their data pages for the MRZ benchmark: random holders, numbers and
dates in all three formats, each page seen through a random mix of degradations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from gate.icao.mrz import Mrz
from gate.icao.mrz_format import FORMATS
from gate.page import Degradation, degrade, random_degradation, render_page
from gate.types import ImageBGR

_SURNAMES = (
    "MUSTERMANN",
    "ERIKSSON",
    "O'NEIL",
    "GARCIA LOPEZ",
    "NGUYEN",
    "VAN DER BERG",
    "SMITH",
    "KOWALSKI",
    "ROSSI",
    "DUBOIS",
    "OKAFOR",
    "TANAKA",
    "SILVA",
    "MUELLER",
    "QUIXOTE",
    "JOHANSSON",
    "WOJCIECHOWSKA",
    "BAPTISTE",
    "ZHANG",
    "ABDULLAH",
    "PAPADOPOULOS",
    "LI",
)
_GIVEN = (
    "ERIKA",
    "ANNA MARIA",
    "JOHN",
    "MARIE CLAIRE",
    "OLUWASEUN",
    "YUKI",
    "JOSE LUIS",
    "PIOTR",
    "GIULIA",
    "BJORN",
    "QUENTIN",
    "ZOE",
    "XAVIER",
    "FATIMA",
    "KWAME",
    "IVAN",
    "HELGA",
)
_STATES = ("D", "UTO", "FRA", "NLD", "GBR", "USA", "ITA", "ESP", "POL", "SWE", "JPN", "BRA")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class BenchPage:
    number: int
    mrz: Mrz
    image: ImageBGR
    degradation: Degradation


def _date(rng: np.random.Generator, low: int, high: int) -> str:
    year = int(rng.integers(low, high)) % 100
    return f"{year:02d}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"


def random_document(rng: np.random.Generator, kind: str) -> Mrz:
    """A random holder's MRZ in ``kind`` (``td1``, ``td2``, ``td3``)."""
    length = int(rng.integers(6, 10))
    number = "".join(_ALNUM[int(i)] for i in rng.integers(0, len(_ALNUM), length))
    optional = ""
    if rng.random() < 0.4:
        optional = "".join(_ALNUM[int(i)] for i in rng.integers(0, len(_ALNUM), 7))
    state = _STATES[int(rng.integers(len(_STATES)))]
    return FORMATS[kind](
        surname=_SURNAMES[int(rng.integers(len(_SURNAMES)))].replace("'", ""),
        given_names=_GIVEN[int(rng.integers(len(_GIVEN)))],
        document_number=number,
        issuing_state=state,
        nationality=state if rng.random() < 0.8 else _STATES[int(rng.integers(len(_STATES)))],
        birth_date=_date(rng, 1940, 2020),
        sex=("M", "F", "<")[int(rng.integers(3))],
        expiry_date=_date(rng, 2024, 2036),
        optional_data=optional,
        document_type={"td1": "ID", "td2": "I", "td3": "P"}[kind],
    )


def synthetic_portrait(rng: np.random.Generator) -> ImageBGR:
    """A stand-in portrait: a face-coloured oval on a plain ground (the MRZ reader never looks
    at it; a real face is the caller's choice)."""
    image = np.full((180, 140, 3), rng.integers(150, 230, 3), np.uint8)
    tone = tuple(int(v) for v in rng.integers(60, 200, 3))
    cv2.ellipse(image, (70, 80), (40, 55), 0, 0, 360, tone, -1, cv2.LINE_AA)
    cv2.ellipse(image, (70, 190), (70, 50), 0, 0, 360, tone[::-1], -1, cv2.LINE_AA)
    return image


def _print_weight(image: ImageBGR, rng: np.random.Generator) -> ImageBGR:
    """The print a little bolder or thinner (real documents' OCR-B varies with the press)."""
    draw = rng.random()
    kernel = np.ones((2, 2), np.uint8)
    if draw < 0.3:
        return np.asarray(cv2.erode(image, kernel), np.uint8)  # dark strokes grow
    if draw < 0.45:
        return np.asarray(cv2.dilate(image, kernel), np.uint8)
    return image


def bench_pages(count: int, seed: int, *, vary_print: bool = False) -> Iterator[BenchPage]:
    """``count`` degraded pages, formats taking turns, all drawn from ``seed``;
    ``vary_print`` (for training) also varies the print's weight."""
    rng = np.random.default_rng(seed)
    kinds = ("td1", "td2", "td3")
    for number in range(count):
        mrz = random_document(rng, kinds[number % 3])
        page = render_page(
            mrz,
            synthetic_portrait(rng),
            px_per_mm=float(rng.uniform(6.0, 10.0)),
            background_seed=int(rng.integers(4)),
        )
        image = _print_weight(page.image, rng) if vary_print else page.image
        spec = random_degradation(rng)
        yield BenchPage(number, mrz, degrade(image, rng, spec), spec)
