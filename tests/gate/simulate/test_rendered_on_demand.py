"""A traveller's scene is drawn as the camera comes to it, not all before the gate starts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from gate.simulate.lane import RenderedOnDemand, SceneFeed


def test_frames_are_drawn_in_order_only_as_far_as_asked() -> None:
    drawn: list[int] = []

    def render() -> Iterator[np.ndarray]:
        for n in range(30):
            drawn.append(n)
            yield np.full((4, 4, 3), n, np.uint8)

    frames = RenderedOnDemand(render(), 30)
    assert len(frames) == 30 and drawn == []
    assert int(frames[12][0, 0, 0]) == 12
    assert drawn == list(range(13))  # in order: the renderer is one sequence
    assert int(frames[3][0, 0, 0]) == 3 and int(frames[-1][0, 0, 0]) == 29
    assert drawn == list(range(30))  # each drawn once
    assert [int(f[0, 0, 0]) for f in frames[27:]] == [27, 28, 29]
    with pytest.raises(IndexError):
        frames[30]


def test_the_feed_plays_a_scene_drawn_on_demand_without_drawing_ahead() -> None:
    drawn: list[int] = []

    def render() -> Iterator[np.ndarray]:
        for n in range(10):
            drawn.append(n)
            yield np.full((4, 4, 3), n, np.uint8)

    feed = SceneFeed()
    feed.show(RenderedOnDemand(render(), 10))
    stream = feed()
    assert [int(next(stream)[0, 0, 0]) for _ in range(4)] == [0, 1, 2, 3]
    assert drawn == [0, 1, 2, 3]
