"""Every text the traveller's screen shows, in English, the catalogues' source language.

``N_`` only marks a text for extraction (``pybabel extract -k N_``, see docs/screen.md); the
screen translates it when it draws a view (``gate.screen.languages``). A view never shows
anything else: no name, no document number, no score and no reason for a referral.
"""

from __future__ import annotations


def N_(text: str) -> str:
    """gettext's name for "mark, do not translate yet"."""
    return text


TITLE = N_("Border control")
LANGUAGE = N_("Language")

IDLE_TITLE = N_("Place your passport on the reader")
IDLE_TEXT = N_("Open it at the photo page and lay it face down.")

READING_TITLE = N_("Reading your passport")
READING_TEXT = N_("Do not remove your passport.")

CAMERA_TITLE = N_("Look at the camera")
HINT_FIND = N_("Stand in front of the camera.")
HINT_CLOSER = N_("Come closer.")
HINT_CENTRE = N_("Stand in the middle.")
HINT_STRAIGHT = N_("Look straight at the camera.")
HINT_HOLD = N_("Hold still.")
CAMERA_TIPS = N_("Remove glasses and hat. Only one person in the gate.")

# The challenge: one action asked in the camera view (the traveller's own left and right).
TURN_LEFT = N_("Please turn your head slightly to your left")
TURN_RIGHT = N_("Please turn your head slightly to your right")
TURN_BACK = N_("Then look at the camera again.")
BLINK = N_("Please blink once")
BLINK_TEXT = N_("Keep looking at the camera.")

VERIFY_TITLE = N_("Checking")
VERIFY_TEXT = N_("Please wait a moment.")

PROCEED_TITLE = N_("Please proceed")
PROCEED_TEXT = N_("The exit is open. Take your passport with you.")

OFFICER_TITLE = N_("Please see an officer")
OFFICER_TEXT = N_("Take your passport. An officer will help you.")

CLOSED_TITLE = N_("This gate is closed")
CLOSED_TEXT = N_("Please use another gate.")

# The hints of the camera view, by the key the screen's state holds.
HINTS = {
    "find": HINT_FIND,
    "closer": HINT_CLOSER,
    "centre": HINT_CENTRE,
    "straight": HINT_STRAIGHT,
    "hold": HINT_HOLD,
}

# The challenge's (title, text), by the action the lane asks for.
CHALLENGES = {
    "turn_left": (TURN_LEFT, TURN_BACK),
    "turn_right": (TURN_RIGHT, TURN_BACK),
    "blink": (BLINK, BLINK_TEXT),
}

# Every text above, once each, in the order written (what the catalogues must translate).
MESSAGES: tuple[str, ...] = tuple(
    dict.fromkeys(v for k, v in list(globals().items()) if k.isupper() and isinstance(v, str))
)
