"""The console's HTML: a login page and one page shell per view; the views are drawn by the
small script shipped in ``static/`` (no framework, nothing from a CDN) from the JSON API and
kept live by server-sent events. Text from lanes is only ever set as text, never as HTML."""

from __future__ import annotations

from html import escape
from importlib import resources

CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
STATIC = frozenset({"console.js", "console.css"})
VIEWS = (
    ("hall", "Hall"),
    ("referrals", "Referrals"),
    ("alarms", "Alarms"),
    ("audit", "Audit"),
    ("metrics", "Metrics"),
)


def static_file(name: str) -> str | None:
    if name not in STATIC:
        return None
    return resources.files("gate.console").joinpath("static", name).read_text("utf-8")


def _head(title: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} - egate console</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<link rel='stylesheet' href='/static/console.css'></head>"
    )


def login_page(failed: bool) -> str:
    note = "<p class='error'>Wrong name or password.</p>" if failed else ""
    return (
        _head("Log in") + "<body class='login'><main><h1>egate officer console</h1>"
        f"{note}<form method='post' action='/login'>"
        "<label>Name <input name='username' id='username' autocomplete='username' required>"
        "</label><label>Password <input name='password' id='password' type='password' "
        "autocomplete='current-password' required></label>"
        "<button type='submit' id='login'>Log in</button></form></main></body></html>"
    )


def shell(view: str, lane: str, user: str, role: str) -> str:
    current = "hall" if view in ("", "lanes") else view
    links = "".join(
        f"<a href='/{name}' class='{'current' if name == current else ''}'>{label}</a>"
        for name, label in VIEWS
    )
    return (
        _head(lane or view.title())
        + f"<body data-view='{escape(view or 'hall')}' data-lane='{escape(lane)}'>"
        + f"<header><b>egate</b><nav>{links}</nav><span id='who'>{escape(user)} "
        + f"({escape(role)})</span><button id='logout'>Log out</button>"
        + "<label><input type='checkbox' id='sound'> sound</label>"
        + "<span id='live' class='off'>offline</span></header>"
        + "<main id='view'></main><script src='/static/console.js'></script></body></html>"
    )
