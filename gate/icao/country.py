"""Country codes: the MRZ uses ICAO Doc 9303 part 3 codes (ISO 3166-1 alpha-3 with ICAO's
additions), X.509's ``C`` attribute the alpha-2 code.

Every code is checked against that list: a two-letter code, digits or a made-up ``ZZZ`` are
refused, whatever the caller (``egate pki init --country``, ``passport issue``, passive
authentication of DG1's issuing state).
"""

from __future__ import annotations

import re

import pycountry

from gate.errors import DocumentError

# Doc 9303-3 codes that are not ISO 3166-1 alpha-3 and may issue documents, with the alpha-2
# code their certificates carry; UTO is the specimen state Utopia (test documents).
_ICAO_ISSUERS = {"D": "DE", "GBD": "GB", "GBN": "GB", "GBO": "GB", "GBP": "GB", "GBS": "GB",
                 "UNO": "UN", "UNA": "UN", "UNK": "UN", "EUE": "EU", "RKS": "XK",
                 "UTO": "UT"}  # fmt: skip
# Doc 9303-3 codes that are a holder's nationality only (stateless persons, refugees,
# unspecified): no state issues documents under them.
NATIONALITY_ONLY = frozenset({"XXA", "XXB", "XXC", "XXX"})
_SHAPE = re.compile(r"[A-Z]{1,3}")


def _normal(code: str) -> str:
    """Upper case without MRZ fillers ('D<<' is 'D'); non-ASCII is left for the check."""
    return code.upper().replace("<", "").strip() if code.isascii() else code


def _iso_alpha2(code: str) -> str | None:
    if len(code) != 3:
        return None
    country = pycountry.countries.get(alpha_3=code)
    return None if country is None else str(country.alpha_2)


def _not_a_code(what: str, code: str) -> DocumentError:
    return DocumentError(
        f"{what} {code!r} is not an ICAO Doc 9303 code (ISO 3166-1 alpha-3 such as DEU, or "
        "D, GBD, UNO, EUE, UTO ...)"
    )


def state_code(code: str, what: str = "country code") -> str:
    """``code`` as an issuing state (upper case, no fillers); ``DocumentError`` naming
    ``what`` when it is not on the ICAO list or cannot issue documents."""
    normal = _normal(code)
    if not _SHAPE.fullmatch(normal):
        raise _not_a_code(what, code)
    if normal in NATIONALITY_ONLY:
        raise DocumentError(
            f"{what} {normal} is a nationality code (stateless, refugee or unspecified), "
            "not a state that issues documents"
        )
    if normal not in _ICAO_ISSUERS and _iso_alpha2(normal) is None:
        raise _not_a_code(what, code)
    return normal


def nationality_code(code: str, what: str = "nationality") -> str:
    """``code`` as a holder's nationality: an issuing state's code or XXA/XXB/XXC/XXX."""
    normal = _normal(code)
    if normal in NATIONALITY_ONLY:
        return normal
    return state_code(code, what)


def alpha2(code: str) -> str:
    """The alpha-2 code X.509 certificates carry for an MRZ (alpha-3) state code."""
    normal = state_code(code)
    return _ICAO_ISSUERS.get(normal) or str(_iso_alpha2(normal))
