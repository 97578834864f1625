"""Our own accessibility check of a page in the browser, from the computed styles: every
piece of text and every pictogram against the background it is drawn on (WCAG 2.2 contrast
ratios), the text's size (for reading at 1 m), and the page's animations (none flashes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIN_TEXT_PX = 32.0  # ~6 mm capitals on a 24-inch full-HD display: read at 1 m
MIN_TEXT_CONTRAST = 4.5  # WCAG 1.4.3 (AA) for any text (ours is large: 3 would pass)
MIN_GRAPHIC_CONTRAST = 3.0  # WCAG 1.4.11 (AA): pictograms and the face guide
MIN_ANIMATION_S = 1.0  # no more than one change a second: far from 3 flashes (WCAG 2.3.1)

# Every visible element with text of its own, and every pictogram: its colour, its size and
# the colours behind it (its own background and its ancestors', nearest first).
_COLLECT = """
const out = [];
function visible(el) {
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
}
function behind(el) {
  const colours = [];
  for (let e = el; e; e = e.parentElement) colours.push(getComputedStyle(e).backgroundColor);
  return colours;
}
for (const el of document.querySelectorAll('body *')) {
  if (!visible(el)) continue;
  const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
  const graphic = el.matches('svg.pictogram');
  if (!own && !graphic) continue;
  const s = getComputedStyle(el);
  out.push({text: own ? el.textContent.trim().slice(0, 40) : '<' + el.tagName + '>',
            graphic: graphic && !own, colour: s.color, size: parseFloat(s.fontSize),
            behind: behind(el)});
}
const animations = document.getAnimations().map(a => a.effect.getTiming().duration);
return {items: out, animations: animations};
"""


def _rgba(text: str) -> tuple[float, float, float, float]:
    inside = text[text.index("(") + 1 : text.rindex(")")].replace("/", ",")
    parts = [float(p) for p in inside.replace(",", " ").split()]
    return parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0


def _over(
    top: tuple[float, float, float, float], below: tuple[float, float, float]
) -> tuple[float, float, float]:
    alpha = top[3]
    return tuple(top[i] * alpha + below[i] * (1 - alpha) for i in range(3))  # type: ignore[return-value]


def background(layers: list[str]) -> tuple[float, float, float]:
    """The colour seen behind an element: its backgrounds composited, nearest on top, over
    the white of a page without one."""
    colour = (255.0, 255.0, 255.0)
    for layer in reversed(layers):
        colour = _over(_rgba(layer), colour)
    return colour


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@dataclass(frozen=True)
class Finding:
    text: str
    contrast: float
    size: float
    graphic: bool


def check_page(driver: Any) -> tuple[list[Finding], list[str]]:
    """Every text and pictogram on the page, measured; and what breaks the rules."""
    collected = driver.execute_script(_COLLECT)
    findings, problems = [], []
    for item in collected["items"]:
        behind = background(item["behind"])
        ratio = contrast(_over(_rgba(item["colour"]), behind), behind)
        finding = Finding(item["text"], ratio, item["size"], item["graphic"])
        findings.append(finding)
        least = MIN_GRAPHIC_CONTRAST if finding.graphic else MIN_TEXT_CONTRAST
        if ratio < least:
            problems.append(f"{finding.text!r}: contrast {ratio:.2f} < {least}")
        if not finding.graphic and finding.size < MIN_TEXT_PX:
            problems.append(f"{finding.text!r}: {finding.size:g} px < {MIN_TEXT_PX:g} px")
    for duration in collected["animations"]:
        if not isinstance(duration, (int, float)) or duration < MIN_ANIMATION_S * 1000:
            problems.append(f"an animation of {duration} ms (flashing?)")
    return findings, problems
