"""The screen's HTML: the page shell (``shell``) and one fragment per view (``view_html``),
drawn on the server in the traveller's language and sent whole to the browser, which only
puts it in place (``static/screen.js``). Every text comes from the catalogues through
``html.escape``; nothing from the lane (names, reasons, numbers) is ever drawn."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from importlib import resources

from gate.screen import messages as m
from gate.screen.languages import LANGUAGES, translate
from gate.screen.pictograms import pictogram
from gate.screen.views import ScreenState

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'none'; "
    "base-uri 'none'; object-src 'none'"
)
STATIC = {"screen.js": "text/javascript", "screen.css": "text/css"}

# view -> (pictogram, title, text)
_VIEWS = {
    "idle": ("passport", m.IDLE_TITLE, m.IDLE_TEXT),
    "reading": ("chip", m.READING_TITLE, m.READING_TEXT),
    "verifying": ("wait", m.VERIFY_TITLE, m.VERIFY_TEXT),
    "proceed": ("ahead", m.PROCEED_TITLE, m.PROCEED_TEXT),
    "officer": ("officer", m.OFFICER_TITLE, m.OFFICER_TEXT),
    "closed": ("closed", m.CLOSED_TITLE, m.CLOSED_TEXT),
}


def static_file(name: str) -> str | None:
    if name not in STATIC:
        return None
    return resources.files("gate.screen").joinpath("static", name).read_text("utf-8")


_MIRROR = (
    "<figure class='mirror' id='mirror-box' data-ok='false'><img id='mirror' alt=''>"
    "<svg class='guide' viewBox='0 0 100 100' preserveAspectRatio='none' aria-hidden='true'>"
    "<ellipse cx='50' cy='48' rx='30' ry='36'/></svg></figure>"
)


def view_html(view: str, lang: str, hint: str = "find", challenge: str | None = None) -> str:
    """The fragment of ``view`` in ``lang`` (for the camera view, with ``hint``; for the
    challenge view, the action asked: ``gate.screen.views.CHALLENGES``)."""

    def t(message: str) -> str:
        return escape(translate(lang, message))

    if view == "camera":
        return (
            "<section class='view view-camera'>"
            f"<h1>{pictogram('camera')}<span>{t(m.CAMERA_TITLE)}</span></h1>"
            f"<div class='camera'>{_MIRROR}<div class='camera-text'>"
            f"<p class='hint' id='hint' role='status'><span class='tick'>{pictogram('tick')}"
            f"</span><span id='hint-text'>{t(m.HINTS[hint])}</span></p>"
            f"<p class='tips'>{t(m.CAMERA_TIPS)}</p></div></div></section>"
        )
    if view == "challenge":
        return _challenge_html(challenge or "turn_left", lang, t)
    drawing, title, text = _VIEWS[view]
    progress = "<div class='progress' aria-hidden='true'><span></span></div>"
    return (
        f"<section class='view view-{view}'>{pictogram(drawing)}"
        f"<h1>{t(title)}</h1><p>{t(text)}</p>"
        f"{progress if view in ('reading', 'verifying') else ''}</section>"
    )


def _challenge_html(action: str, lang: str, t: Callable[[str], str]) -> str:
    """The camera view asking for ``action``. The instruction's line is laid out left to
    right whatever the script, with the arrow on the side it points to: the traveller's own
    left is the screen's left (and the mirror's), in Arabic as in French. Its words keep
    the language's own direction."""
    title, text = m.CHALLENGES[action]
    words = f"<span dir='{LANGUAGES[lang].direction}'>{t(title)}</span>"
    drawing = pictogram("blink" if action == "blink" else action)
    line = words + drawing if action == "turn_right" else drawing + words
    return (
        f"<section class='view view-camera view-challenge' data-action='{action}'>"
        f"<h1 dir='ltr'>{line}</h1>"
        f"<div class='camera'>{_MIRROR}<div class='camera-text'>"
        f"<p class='hint challenge-text'>{t(text)}</p></div></div></section>"
    )


def languages_html(lang: str) -> str:
    buttons = "".join(
        f"<button type='button' data-lang='{code}' lang='{code}' dir='{language.direction}' "
        f"aria-pressed='{'true' if code == lang else 'false'}'>{escape(language.name)}</button>"
        for code, language in LANGUAGES.items()
    )
    label = escape(translate(lang, m.LANGUAGE))
    return f"<nav id='languages' aria-label='{label}'>{buttons}</nav>"


def message(state: ScreenState, seq: int, sent: float) -> dict[str, object]:
    """What the browser is sent for ``state``: the view drawn in the traveller's language."""
    lang = state.language
    return {
        "seq": seq,
        "view": state.shown,
        "lang": lang,
        "dir": LANGUAGES[lang].direction,
        "title": translate(lang, m.TITLE),
        "language": translate(lang, m.LANGUAGE),
        "html": view_html(state.shown, lang, challenge=state.challenge),
        "sent": sent,
    }


def shell(current: dict[str, object]) -> str:
    """The whole page, showing ``current`` (a ``message``) until the events take over."""
    lang, direction = str(current["lang"]), str(current["dir"])
    return (
        f"<!doctype html><html lang='{lang}' dir='{direction}'><head><meta charset='utf-8'>"
        f"<title>{escape(str(current['title']))}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<link rel='stylesheet' href='/static/screen.css'></head>"
        f"<body data-view='{escape(str(current['view']))}' data-seq='{current['seq']}'>"
        f"<main id='view'>{current['html']}</main>{languages_html(lang)}"
        "<script src='/static/screen.js'></script></body></html>"
    )
