"""The screen's languages: which ones it ships, which one a nationality reads, and the
catalogues (gettext, through Babel) that translate ``gate.screen.messages``.

The catalogues are the ``.po`` files under ``locale/`` (one per language, made from
``locale/screen.pot``); they are compiled in memory when first asked for, so a compiled file
can never be older than its source. A text a catalogue lacks (missing, empty or fuzzy) is
shown in English, the source language, and ``missing`` names it.
"""

from __future__ import annotations

import functools
import gettext
import io
from dataclasses import dataclass
from importlib import resources

from gate.errors import ConfigError

DOMAIN = "screen"
DEFAULT = "en"


@dataclass(frozen=True)
class Language:
    code: str  # the catalogue's folder and the page's lang attribute
    name: str  # in the language itself, as the language choice shows it
    direction: str = "ltr"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English"),
        Language("fr", "Français"),
        Language("de", "Deutsch"),
        Language("es", "Español"),
        Language("ar", "العربية", "rtl"),
        Language("zh", "中文"),
    )
}

# Nationality (DG1, ICAO 9303 codes: ISO 3166-1 alpha-3, plus "D" for Germany and the
# British codes) -> the language the screen speaks first. Everyone else reads the default
# language and chooses another on the screen.
_SPOKEN = {
    "fr": "FRA BEL LUX MCO SEN CIV MLI BFA NER TCD CMR GAB COG COD BEN TGO GIN MDG HTI CAF DJI "
    "COM BDI",
    "de": "D DEU AUT LIE CHE",
    "es": "ESP MEX ARG COL PER VEN CHL ECU GTM CUB BOL DOM HND PRY SLV NIC CRI PAN URY GNQ",
    "ar": "SAU EGY DZA MAR TUN LBY SDN IRQ SYR JOR LBN PSE KWT QAT BHR ARE OMN YEM MRT",
    "zh": "CHN TWN HKG MAC",
    "en": "GBR GBD GBN GBO GBP GBS USA CAN AUS NZL IRL",
}
NATIONALITY_LANGUAGE: dict[str, str] = {
    code: lang for lang, codes in _SPOKEN.items() for code in codes.split()
}


def language_for(nationality: str | None, default: str = DEFAULT) -> str:
    """The language for a DG1 nationality (``"FRA"``, ``"D<<"``); ``default`` for others."""
    code = (nationality or "").replace("<", "").strip().upper()
    return NATIONALITY_LANGUAGE.get(code, default)


def check_language(code: str) -> str:
    """``code`` when the screen ships it; else ``ConfigError`` naming the ones it does."""
    if code not in LANGUAGES:
        raise ConfigError(f"screen language {code!r}: one of {', '.join(LANGUAGES)}")
    return code


def _po_text(code: str) -> str | None:
    path = resources.files("gate.screen").joinpath("locale", code, "LC_MESSAGES", f"{DOMAIN}.po")
    return path.read_text("utf-8") if path.is_file() else None


def compile_po(text: str, code: str) -> gettext.GNUTranslations:
    """A catalogue's ``.po`` text as gettext translations (compiled in memory by Babel;
    fuzzy and empty entries are left out, so those texts fall back to English)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.StringIO(text), locale=code, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@functools.cache
def translations(code: str) -> gettext.NullTranslations:
    """The translations of ``code`` (English, or a language without a catalogue: the
    texts as written)."""
    text = _po_text(check_language(code)) if code != DEFAULT else None
    return compile_po(text, code) if text is not None else gettext.NullTranslations()


def translate(code: str, message: str) -> str:
    return translations(code).gettext(message)


def missing(code: str, messages: tuple[str, ...], po_text: str | None = None) -> list[str]:
    """The texts of ``messages`` that ``code``'s catalogue (or ``po_text``) does not
    translate: absent, empty or fuzzy, so shown in English."""
    if code == DEFAULT:
        return []
    text = po_text if po_text is not None else _po_text(check_language(code))
    if text is None:
        return list(messages)
    from babel.messages.pofile import read_po

    catalog = read_po(io.StringIO(text), locale=code, domain=DOMAIN)
    lacking = []
    for text_id in messages:
        entry = catalog.get(text_id)
        if entry is None or not entry.string or entry.fuzzy:
            lacking.append(text_id)
    return lacking
