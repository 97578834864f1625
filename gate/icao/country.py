"""Country codes: the MRZ uses ISO 3166 alpha-3 (with ICAO exceptions), X.509 ``C`` alpha-2."""

from __future__ import annotations

import pycountry

from gate.errors import DocumentError

# ICAO Doc 9303 part 3 codes that are not ISO 3166 alpha-3, plus the specimen state Utopia.
_ICAO_EXTRA = {"D": "DE", "UTO": "UT", "GBD": "GB", "GBN": "GB", "GBO": "GB", "GBS": "GB",
               "GBP": "GB", "RKS": "XK", "UNO": "UN", "UNA": "UN", "EUE": "EU"}  # fmt: skip


def alpha2(code: str) -> str:
    """The alpha-2 code X.509 certificates carry for an MRZ (alpha-3) state code."""
    code = code.upper().replace("<", "")
    if code in _ICAO_EXTRA:
        return _ICAO_EXTRA[code]
    if len(code) == 2:
        return code
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        raise DocumentError(f"country code {code!r} is not an ISO 3166 / ICAO state code")
    return str(country.alpha_2)
