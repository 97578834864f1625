"""Where things sit on a data page, in millimetres, after ICAO Doc 9303 parts 4 (TD3), 5 (TD1)
and 6 (TD2): the nominal size of the document, the portrait's zone, the visual zone's field
grid and the machine readable zone (ten characters to the inch, lines about 4.2 mm apart).

The TD1 card is drawn as one face carrying the portrait, the visual fields and the three MRZ
lines (a real card prints its MRZ on the back); a reader that images both faces sees the same
content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PageFormat = Literal["TD1", "TD2", "TD3"]
FORMATS: tuple[PageFormat, ...] = ("TD1", "TD2", "TD3")
MRZ_PITCH_MM = 2.54  # 10 characters per inch (9303-3 4.4)
CHARS: dict[PageFormat, int] = {"TD1": 30, "TD2": 36, "TD3": 44}
LINES: dict[PageFormat, int] = {"TD1": 3, "TD2": 2, "TD3": 2}


@dataclass(frozen=True)
class Layout:
    """One format's geometry in millimetres (origin at the top left corner)."""

    kind: PageFormat
    width: float
    height: float
    portrait: tuple[float, float, float, float]  # left, top, width, height
    fields_left: float  # where the visual fields' column starts
    fields_top: float
    fields_right: float
    row: float  # the height of one label + value row
    mrz_left: float  # left edge of the first MRZ character
    mrz_first_centre: float  # centre line of the first MRZ line
    mrz_line_pitch: float
    header: float  # height of the header band

    @property
    def chars(self) -> int:
        return CHARS[self.kind]

    @property
    def lines(self) -> int:
        return LINES[self.kind]

    @property
    def mrz_top(self) -> float:
        """The top of the machine readable zone (the clear band above the first line)."""
        return self.mrz_first_centre - 0.8 * self.mrz_line_pitch


LAYOUTS: dict[PageFormat, Layout] = {
    "TD3": Layout(
        kind="TD3",
        width=125.0,
        height=88.0,
        portrait=(5.0, 19.0, 32.0, 42.0),
        fields_left=41.0,
        fields_top=16.0,
        fields_right=121.0,
        row=6.8,
        mrz_left=6.6,
        mrz_first_centre=88.0 - 14.6,
        mrz_line_pitch=4.6,
        header=11.0,
    ),
    "TD2": Layout(
        kind="TD2",
        width=105.0,
        height=74.0,
        portrait=(4.0, 15.0, 26.0, 34.0),
        fields_left=33.0,
        fields_top=13.0,
        fields_right=101.0,
        row=5.6,
        mrz_left=6.8,
        mrz_first_centre=74.0 - 12.9,
        mrz_line_pitch=4.4,
        header=9.0,
    ),
    "TD1": Layout(
        kind="TD1",
        width=85.6,
        height=54.0,
        portrait=(3.5, 9.5, 20.0, 25.0),
        fields_left=26.5,
        fields_top=8.5,
        fields_right=83.0,
        row=4.4,
        mrz_left=4.7,
        mrz_first_centre=54.0 - 13.9,
        mrz_line_pitch=4.3,
        header=7.0,
    ),
}
