"""PAD metrics (ISO/IEC 30107-3 terms) from liveness scores, counted by hand."""

from __future__ import annotations

import pytest

from bench import pad


def test_apcer_bpcer_counts_and_intervals() -> None:
    scores = {
        "genuine": [0.9, 0.8, 0.45, 0.7, 0.5],  # 0.45 refused at 0.5; 0.5 is live (>=)
        "print": [0.1, 0.2, 0.6, 0.3],  # 0.6 accepted
        "screen": [0.05, 0.1, 0.2],
    }
    s = pad.pad_summary(scores, 0.5)
    assert s["bona_fide"]["refused"] == 1 and s["bona_fide"]["bpcer"] == pytest.approx(0.2)
    assert s["attacks"]["print"]["accepted"] == 1
    assert s["attacks"]["print"]["apcer"] == pytest.approx(0.25)
    assert s["attacks"]["screen"]["apcer"] == 0.0
    assert s["attacks"]["screen"]["apcer_ci95"]["low"] == 0.0
    assert s["attacks"]["screen"]["apcer_ci95"]["high"] > 0.3  # 3 scenes prove little
    # screen attacks score below every bona fide scene: they separate fully
    assert s["attacks"]["screen"]["eer"] == 0.0
    assert 0.0 < s["attacks"]["print"]["eer"] < 0.5
    page = pad.markdown(
        dict(s, pack="p", photos=["a"], seeds_per_photo=1, frames_per_scene=4, note="synthetic")
    )
    assert "| print attack (APCER) | 4 | 1 accepted | 25.0 %" in page
