"""The screen's catalogues: the template holds every text of ``gate.screen.messages``, every
language translates every text (or the test names those it lacks), a missing translation is
shown in English, and the fonts for every script are installed."""

from __future__ import annotations

import io
from importlib import resources

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from gate.screen import LANGUAGES, messages
from gate.screen.fonts import PACKAGES, missing_fonts
from gate.screen.languages import (
    DEFAULT,
    NATIONALITY_LANGUAGE,
    compile_po,
    missing,
    translate,
)

LOCALE = resources.files("gate.screen").joinpath("locale")


def _ids(text: str) -> list[str]:
    return [entry.id for entry in read_po(io.StringIO(text)) if entry.id]


def test_the_template_is_what_babel_extracts_from_the_messages() -> None:
    path = str(resources.files("gate.screen").joinpath("messages.py"))
    extracted = list(
        dict.fromkeys(m[1] for m in extract_from_file("python", path, keywords={"N_": None}))
    )
    assert extracted == list(messages.MESSAGES)
    template = LOCALE.joinpath("screen.pot").read_text("utf-8")
    assert _ids(template) == extracted, "run the pybabel extract/update of docs/screen.md"


def test_each_catalogue_holds_the_templates_texts_and_no_others() -> None:
    for code in LANGUAGES:
        if code == DEFAULT:
            continue
        po = LOCALE.joinpath(code, "LC_MESSAGES", "screen.po").read_text("utf-8")
        assert sorted(_ids(po)) == sorted(messages.MESSAGES), code


def test_every_text_is_translated_in_every_language() -> None:
    lacking = {code: missing(code, messages.MESSAGES) for code in LANGUAGES}
    print("texts without a translation (shown in English):", lacking)
    assert not any(lacking.values()), f"texts without a translation: {lacking}"


def test_a_missing_translation_falls_back_to_english() -> None:
    po = LOCALE.joinpath("fr", "LC_MESSAGES", "screen.po").read_text("utf-8")
    entry = 'msgid "Please proceed"\nmsgstr "Veuillez avancer"'
    assert entry in po
    gap = po.replace(entry, 'msgid "Please proceed"\nmsgstr ""')
    fuzzy = po.replace(entry, '#, fuzzy\nmsgid "Please proceed"\nmsgstr "Avancez"')
    for text in (gap, fuzzy):
        assert missing("fr", messages.MESSAGES, text) == ["Please proceed"]
        translated = compile_po(text, "fr")
        assert translated.gettext("Please proceed") == "Please proceed"
        assert translated.gettext("Please see an officer") == "Veuillez vous adresser à un agent"
    assert translate("fr", "Please proceed") == "Veuillez avancer"


def test_languages_and_the_nationality_map() -> None:
    assert {"en", "fr", "de", "es", "ar", "zh"} <= set(LANGUAGES)
    assert [code for code, lang in LANGUAGES.items() if lang.direction == "rtl"] == ["ar"]
    assert set(NATIONALITY_LANGUAGE.values()) <= set(LANGUAGES)
    assert all(1 <= len(code) <= 3 and code.isalpha() for code in NATIONALITY_LANGUAGE)


def test_the_fonts_of_every_script_are_installed() -> None:
    assert not missing_fonts(), f"apt-get install {PACKAGES} (make install does)"
