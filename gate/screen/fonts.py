"""The fonts the screen serves to its page, from Debian's font packages (``make install``
adds them): Noto Sans for Latin scripts, Noto Sans Arabic, and Droid Sans Fallback for
Chinese. Each is looked for in the order given; one not installed is not served (the
browser then uses what it has), and ``missing_fonts`` names it."""

from __future__ import annotations

from pathlib import Path

_ROOT = Path("/usr/share/fonts/truetype")
FONTS: dict[str, tuple[Path, ...]] = {
    "sans.ttf": (_ROOT / "noto/NotoSans-Regular.ttf", _ROOT / "dejavu/DejaVuSans.ttf"),
    "sans-bold.ttf": (_ROOT / "noto/NotoSans-Bold.ttf", _ROOT / "dejavu/DejaVuSans-Bold.ttf"),
    "arabic.ttf": (_ROOT / "noto/NotoSansArabic-Regular.ttf",),
    "arabic-bold.ttf": (_ROOT / "noto/NotoSansArabic-Bold.ttf",),
    "cjk.ttf": (_ROOT / "droid/DroidSansFallbackFull.ttf",),
}
PACKAGES = "fonts-noto-core fonts-droid-fallback"


def font_path(name: str) -> Path | None:
    """The installed file of font ``name`` (a key of ``FONTS``), or ``None``."""
    for path in FONTS.get(name, ()):
        if path.is_file():
            return path
    return None


def missing_fonts() -> list[str]:
    return [name for name in FONTS if font_path(name) is None]
