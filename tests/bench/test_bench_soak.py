"""The soak harness's arithmetic and its sampling of this very process."""

from __future__ import annotations

import threading

import pytest

from bench.soak import Sample, sample, slope_per_100, summarise


def test_slope_per_100_of_a_line_and_of_a_flat_series() -> None:
    xs = [0.0, 10.0, 20.0, 30.0]
    assert slope_per_100(xs, [5.0, 6.0, 7.0, 8.0]) == pytest.approx(10.0)
    assert slope_per_100(xs, [3.0, 3.0, 3.0, 3.0]) == pytest.approx(0.0)
    assert slope_per_100([1.0], [2.0]) == 0.0


def test_summary_uses_the_second_half_and_counts_expected() -> None:
    # Start-up growth in the first half, flat afterwards: no leak is reported.
    samples = [Sample(i, 100.0 + (10 * i if i < 5 else 50), 4, 10) for i in range(10)]
    report = summarise(samples, expected=9, travellers=10)
    assert report["share_as_expected"] == pytest.approx(0.9)
    assert report["measures"]["rss_mb"]["slope_per_100_travellers"] == 0.0
    assert report["measures"]["rss_mb"]["first"] == 100.0
    assert report["measures"]["rss_mb"]["max"] == 150.0


def test_sample_sees_a_new_thread_and_a_new_file() -> None:
    before = sample(0)
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    with open(__file__, encoding="utf-8"):
        during = sample(1)
    release.set()
    worker.join()
    assert during.threads == before.threads + 1
    assert during.open_files == before.open_files + 1
    assert during.rss_mb > 1.0
