"""The traveller's screen: what the person in the gate sees, in their language, step by step.

A ``Screen`` observes the lane's events and keeps one view per lane state; ``ScreenServer``
serves it as a full-screen page (kiosk Chromium on the lane's display), updated over
server-sent events; ``attach`` ties it to a lane (live frames, DG1's nationality). The texts
are gettext catalogues under ``locale/`` (docs/screen.md).
"""

from gate.screen.languages import LANGUAGES, language_for
from gate.screen.screen import NationalityTap, Screen
from gate.screen.server import DEFAULT_LISTEN, ScreenServer, attach
from gate.screen.views import VIEWS, ScreenState, advance

__all__ = [
    "DEFAULT_LISTEN",
    "LANGUAGES",
    "VIEWS",
    "NationalityTap",
    "Screen",
    "ScreenServer",
    "ScreenState",
    "advance",
    "attach",
    "language_for",
]
