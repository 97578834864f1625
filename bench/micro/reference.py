"""The reference timings the micro-benchmarks record beside their own (dlib-bin's calls, a
second pack's, the fakes-only lane): over several runs where pytest-benchmark times the run
(``make bench``: ``--benchmark-enable``); one call each where it does not (``make test``
runs every benchmark once as a smoke test, ``--benchmark-disable``): the reference's code
still runs and its answer is still checked, but nobody reads a median of one plain run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(config: Any) -> bool:
    """Whether pytest-benchmark times this session (its own rule for ``--benchmark-disable``
    and ``--benchmark-enable``)."""
    session = getattr(config, "_benchmarksession", None)
    if session is not None:
        return not bool(session.disabled)
    return bool(config.getoption("benchmark_enable", False)) or not bool(
        config.getoption("benchmark_disable", False)
    )


def runs(config: Any, timing_runs: int) -> int:
    """``timing_runs`` where the session is timed, else 1."""
    return timing_runs if timed(config) else 1


def median_seconds(config: Any, call: Callable[[], object], timing_runs: int) -> float:
    """The median time of ``call`` over ``timing_runs`` calls after a warm-up call where the
    session is timed; the time of one call where it is not."""
    if not timed(config):
        start = time.perf_counter()
        call()
        return time.perf_counter() - start
    call()  # warm-up
    times = []
    for _ in range(timing_runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
