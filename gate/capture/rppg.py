"""The pulse cue: remote photoplethysmography (rPPG) over the capture window.

Blood volume in the skin changes with every heartbeat and changes the skin's colour a
little (most in green). A camera sees it as a periodic signal in the mean colour of the
skin, at the heart rate (0.7-3 Hz, 42-180 beats per minute). A printed or displayed still
picture has no such signal; a screen replaying a video of a live person may carry one (this
cue cannot tell a replay; texture and border must).

Method (POS, "plane orthogonal to skin", Wang, den Brinker, Stuijk and de Haan, 2017):

1. per frame, the mean red, green and blue of skin patches (two cheeks and the forehead,
   placed from the eyes and nose: ``skin_patches``), with the frame's timestamp;
2. resampled by the timestamps to a uniform rate (the camera's own, measured): the lane
   drops frames under load, and a pulse is a frequency in seconds, not in frames;
3. over sliding windows of 1.6 s, each colour divided by its window mean (the skin tone and
   the light's level cancel), projected on the plane orthogonal to the skin tone
   (``S1 = G - B``, ``S2 = G + B - 2R``), combined as ``S1 + (std S1 / std S2) S2``
   (specular and motion changes, common to both, cancel), overlap-added;
4. the spectrum of that pulse signal (Hann window, zero-padded), its highest peak in the
   pulse band (none where a stronger peak lies just below the band, 0.35-0.7 Hz, or the
   band's highest value is at its lower edge: a head or a picture turning, whose flank
   reaches into the band), and its signal-to-noise
   ratio (de Haan and Jeanne's SNR): the power within one spectral resolution of the
   peak and of its first harmonic against the rest of 0.7-4 Hz, in dB.

The cue's own confidence is that SNR, less what noise alone gives by chance in a window
this long (``chance_db``: short windows have few bins, and the highest of a few is high),
through a ramp, and only where the measurement can
mean something: at least ``min_fps`` frames per second (a pulse at 3 Hz needs them) and
``min_seconds`` of skin colour (two or three beats at the least). Otherwise: unavailable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gate.capture.quality import FacePoints
from gate.types import ImageBGR

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RppgSettings:
    min_fps: float = 10.0  # frames per second below which no pulse is looked for
    min_seconds: float = 2.5  # skin colour over at least this long (2-3 beats)
    max_gap_s: float = 0.5  # a longer gap between two frames ends the measured stretch
    band_hz: tuple[float, float] = (0.7, 3.0)  # where the pulse's peak may lie
    motion_hz: float = 0.35  # a stronger peak between this and the band: motion, no pulse
    noise_hz: float = 4.0  # the SNR's band ends here (harmonics included)
    pos_window_s: float = 1.6  # POS's sliding window (about one beat at 40 bpm)
    # The SNR over what noise alone gives by chance in a window this long (the signal bins'
    # share of the band, in dB): at or below ``excess_low_db`` no pulse is seen, at or above
    # ``excess_high_db`` it is certain. Camera noise alone (white, 3-6 s windows, 300 draws
    # each, 10-30 fps) reached 7.7-8.8 dB at its 99th percentile and 9.8 dB at most.
    excess_low_db: float = 9.0
    excess_high_db: float = 12.0


@dataclass(frozen=True)
class RppgResult:
    verdict: str  # "pulse", "none" or "unavailable"
    confidence: float  # 0..1, the SNR through the ramp (0 where unavailable)
    snr_db: float  # NaN where unavailable
    chance_db: float  # the SNR noise alone gives on average in this window (NaN: unavailable)
    bpm: float  # the peak's frequency, beats per minute (NaN where unavailable)
    seconds: float  # length of the measured stretch
    fps: float  # its frame rate, from the timestamps


def skin_patches(points: FacePoints) -> list[tuple[int, int, int, int]]:
    """Two cheek patches and one forehead patch (x0, y0, x1, y1), from the eye centres and
    the nose: where skin is (no eyes, brows, mouth, hair or background)."""
    (lx, ly), (rx, ry) = points.eye_left, points.eye_right
    d = max(points.eye_distance, 1.0)
    mx, my = (lx + rx) / 2, (ly + ry) / 2
    nose_y = points.nose[1]
    cheek_y = max(nose_y - 0.15 * d, my + 0.35 * d)
    half = 0.18 * d
    boxes = [
        (lx - half, cheek_y - half, lx + half, cheek_y + half),
        (rx - half, cheek_y - half, rx + half, cheek_y + half),
        (mx - 0.4 * d, my - 0.75 * d, mx + 0.4 * d, my - 0.45 * d),
    ]
    return [(int(x0), int(y0), math.ceil(x1), math.ceil(y1)) for x0, y0, x1, y1 in boxes]


def skin_colour(image: ImageBGR, points: FacePoints) -> F64 | None:
    """Mean (R, G, B) of the skin patches that lie inside the image; None if none does."""
    h, w = image.shape[:2]
    sums = np.zeros(3)
    count = 0
    for x0, y0, x1, y1 in skin_patches(points):
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        patch = np.asarray(image[y0:y1, x0:x1], dtype=np.float64).reshape(-1, 3)
        sums += patch.sum(axis=0)
        count += len(patch)
    if count == 0:
        return None
    b, g, r = sums / count
    return np.array([r, g, b])


def _stretch(times: F64, gap: float) -> slice:
    """The last run of samples without a gap longer than ``gap`` seconds."""
    breaks = np.nonzero(np.diff(times) > gap)[0]
    return slice(int(breaks[-1]) + 1 if len(breaks) else 0, len(times))


def pos_signal(rgb: F64, fs: float, window_s: float) -> F64:
    """POS pulse signal of uniformly sampled (n, 3) RGB means."""
    n = len(rgb)
    size = max(2, min(n, round(window_s * fs)))
    # every window at once: (windows, size, 3)
    blocks = np.lib.stride_tricks.sliding_window_view(rgb, size, axis=0).transpose(0, 2, 1)
    mean = blocks.mean(axis=1, keepdims=True)
    norm = blocks / np.where(mean > 0, mean, np.inf)
    s1 = norm[:, :, 1] - norm[:, :, 2]
    s2 = norm[:, :, 1] + norm[:, :, 2] - 2 * norm[:, :, 0]
    sd1, sd2 = s1.std(axis=1, keepdims=True), s2.std(axis=1, keepdims=True)
    h = s1 + np.divide(sd1, sd2, out=np.zeros_like(sd1), where=sd2 > 0) * s2
    h -= h.mean(axis=1, keepdims=True)
    out = np.zeros(n)
    for offset in range(size):  # overlap-add: window k adds to samples k .. k + size - 1
        out[offset : offset + len(h)] += h[:, offset]
    return out


def pulse_snr(signal: F64, fs: float, settings: RppgSettings) -> tuple[float, float, float]:
    """(SNR in dB, peak frequency in Hz, chance SNR in dB) of the pulse signal. The chance
    SNR is the signal bins' share of the band: what white noise gives on average."""
    n = len(signal)
    size = 1 << max(10, math.ceil(math.log2(8 * n)))
    spectrum = np.abs(np.fft.rfft((signal - signal.mean()) * np.hanning(n), size)) ** 2
    freq = np.fft.rfftfreq(size, 1.0 / fs)
    low, high = settings.band_hz
    band = (freq >= low) & (freq <= high)
    if not np.any(band) or spectrum[band].max() <= 0:
        return -math.inf, math.nan, math.nan
    peak = float(freq[band][int(np.argmax(spectrum[band]))])
    below = (freq >= settings.motion_hz) & (freq < low)
    at_edge = peak - low < fs / n  # the band's highest value is its lowest frequency
    if at_edge or (np.any(below) and spectrum[below].max() >= spectrum[band].max()):
        # the colour swings slower than a pulse (a head or a picture turning, light
        # changing): what the band holds is that swing's flank, not a heartbeat
        return -math.inf, peak, math.nan
    width = fs / n  # one spectral resolution: half the Hann window's main lobe
    whole = (freq >= low) & (freq <= settings.noise_hz)
    signal_bins = whole & ((np.abs(freq - peak) <= width) | (np.abs(freq - 2 * peak) <= width))
    noise = float(spectrum[whole & ~signal_bins].sum())
    power = float(spectrum[signal_bins].sum())
    share = int(np.count_nonzero(signal_bins)) / max(1, int(np.count_nonzero(whole & ~signal_bins)))
    chance = 10.0 * math.log10(share) if share > 0 else math.nan
    if noise <= 0:
        return math.inf, peak, chance
    return 10.0 * math.log10(max(power, 1e-300) / noise), peak, chance


def rppg(times: F64, rgb: F64, settings: RppgSettings | None = None) -> RppgResult:
    """The pulse cue over frames at ``times`` (seconds) with skin colours ``rgb`` (n, 3)."""
    s = settings or RppgSettings()
    times = np.asarray(times, dtype=np.float64)
    rgb = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    if len(times) < 3:
        return RppgResult("unavailable", 0.0, math.nan, math.nan, math.nan, 0.0, 0.0)
    order = np.argsort(times, kind="stable")
    times, rgb = times[order], rgb[order]
    part = _stretch(times, s.max_gap_s)
    times, rgb = times[part], rgb[part]
    seconds = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    fps = (len(times) - 1) / seconds if seconds > 0 else 0.0
    if fps < s.min_fps or seconds < s.min_seconds:
        return RppgResult("unavailable", 0.0, math.nan, math.nan, math.nan, seconds, fps)
    fs = min(fps, 30.0)
    grid = np.arange(times[0], times[-1] + 1e-9, 1.0 / fs)
    uniform = np.column_stack([np.interp(grid, times, rgb[:, c]) for c in range(3)])
    snr, peak, chance = pulse_snr(pos_signal(uniform, fs, s.pos_window_s), fs, s)
    excess = snr - chance
    span = s.excess_high_db - s.excess_low_db
    confidence = 0.0
    if span > 0 and math.isfinite(excess):
        confidence = float(min(1.0, max(0.0, (excess - s.excess_low_db) / span)))
    verdict = "pulse" if confidence >= 0.5 else "none"
    return RppgResult(verdict, confidence, snr, chance, 60.0 * peak, seconds, fps)
