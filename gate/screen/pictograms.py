"""The views' pictograms: small inline SVG drawings in the spirit of airport wayfinding
signs (a passport on a reader, a camera, an arrow straight ahead, an officer, no entry).
They are decoration beside the text (``aria-hidden``): no view relies on a picture alone,
nor on a colour. Drawn in ``currentColor``, so each view's colours apply."""

from __future__ import annotations

_OPEN = (
    "<svg class='pictogram' viewBox='0 0 120 120' aria-hidden='true' focusable='false' "
    "fill='none' stroke='currentColor' stroke-width='6' stroke-linecap='round' "
    "stroke-linejoin='round'>"
)

_DRAWINGS = {
    # a reader (the slab) and a passport coming down onto it
    "passport": "<rect x='14' y='84' width='92' height='22' rx='4'/>"
    "<rect x='34' y='14' width='52' height='56' rx='5'/><circle cx='60' cy='36' r='10'/>"
    "<path d='M46 58h28'/><path d='M60 72v6'/>",
    # the passport on the reader, with its chip
    "chip": "<rect x='14' y='84' width='92' height='22' rx='4'/>"
    "<rect x='30' y='30' width='60' height='48' rx='5'/>"
    "<rect x='48' y='42' width='24' height='24' rx='3'/><path d='M48 54h24M60 42v24'/>",
    # a camera
    "camera": "<rect x='14' y='34' width='92' height='64' rx='8'/>"
    "<path d='M42 34l8-12h20l8 12'/><circle cx='60' cy='66' r='18'/>",
    # an hourglass
    "wait": "<path d='M30 14h60M30 106h60'/>"
    "<path d='M38 14C38 40 56 48 56 60S38 80 38 106M82 14C82 40 64 48 64 60S82 80 82 106'/>"
    "<path d='M48 96h24' stroke-width='10'/>",
    # an arrow straight ahead (the exit is in front of the traveller, whatever the script)
    "ahead": "<path d='M60 108V18'/><path d='M26 50l34-34 34 34'/>",
    # an officer: a head with a peaked cap, shoulders
    "officer": "<circle cx='60' cy='46' r='18'/><path d='M36 28h48l-6 10H42z'/>"
    "<path d='M22 108c4-24 20-34 38-34s34 10 38 34'/>",
    # no entry
    "closed": "<circle cx='60' cy='60' r='46'/><path d='M32 60h56' stroke-width='14'/>",
    # a head and an arrow under it: turn to the traveller's own left, drawn as seen by the
    # traveller facing the screen. "turn_right" is its mirror; the page's direction never
    # flips either (left is the traveller's left in every script).
    "turn_left": "<circle cx='60' cy='40' r='24'/><path d='M48 40h-10'/>"
    "<path d='M104 92H18'/><path d='M40 70L18 92l22 22'/>",
    "turn_right": "<circle cx='60' cy='40' r='24'/><path d='M72 40h10'/>"
    "<path d='M16 92h86'/><path d='M80 70l22 22-22 22'/>",
    # an eye, open above and closed below
    "blink": "<path d='M14 40c24-26 68-26 92 0c-24 26-68 26-92 0z'/>"
    "<circle cx='60' cy='40' r='10'/>"
    "<path d='M14 88c24 18 68 18 92 0'/><path d='M36 98l-6 10M60 102v12M84 98l6 10'/>",
    # a tick (the face guide is met)
    "tick": "<path d='M24 62l24 24 48-52' stroke-width='12'/>",
}


def pictogram(name: str) -> str:
    return _OPEN + _DRAWINGS[name] + "</svg>"
