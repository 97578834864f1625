"""The virtual ePassport chip (ICAO Doc 9303 over ISO/IEC 7816-4 APDUs), in three parts:
``card`` (the APDU loop, files, BAC, READ BINARY, Active Authentication, the fault
options), ``session`` (the chip's side of secure messaging) and, beside this package,
``drivers.chip.chip_auth_side`` (PACE and Chip Authentication). Status words come from the
table the reader uses too (``gate.icao.status_words``)."""

from drivers.chip.emulator.card import (
    BITS_PER_BYTE,
    DEFAULT_ATR,
    EMRTD_AID,
    FID_CARD_ACCESS,
    FID_CARD_SECURITY,
    MAX_READ,
    VirtualPassport,
    contactless_atr,
    mrz_information,
)

__all__ = [
    "BITS_PER_BYTE",
    "DEFAULT_ATR",
    "EMRTD_AID",
    "FID_CARD_ACCESS",
    "FID_CARD_SECURITY",
    "MAX_READ",
    "VirtualPassport",
    "contactless_atr",
    "mrz_information",
]
