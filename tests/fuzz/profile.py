"""How many examples the fuzzers run: a fixed, derandomised number in ``make test``, many
more (and fresh random ones) in ``make fuzz``.

``EGATE_FUZZ_EXAMPLES`` (set by ``make fuzz``) is the number of examples per fuzz test; when
it is set, the examples are random, not the fixed sequence ``make test`` replays. Each fuzz
test uses ``fuzz_settings(default)`` explicitly, so the count does not depend on a profile
being loaded. ``make fuzz`` also loads this module as a plugin (``-p tests.fuzz.profile``)
and selects the ``egate-fuzz`` profile, so the repository's other property tests that do not
fix their own count (``@given`` alone) run longer too.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_ENV = "EGATE_FUZZ_EXAMPLES"
SLOW_OK = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.function_scoped_fixture,  # tmp_path is shared by a test's examples on purpose
]


def fuzzing() -> bool:
    """True under ``make fuzz`` (``EGATE_FUZZ_EXAMPLES`` set)."""
    return bool(os.environ.get(FUZZ_ENV))


def examples(default: int) -> int:
    """``EGATE_FUZZ_EXAMPLES`` when set (``make fuzz``), else ``default`` (``make test``)."""
    text = os.environ.get(FUZZ_ENV, "")
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else default


def time_limit(default: int, seconds: float) -> float:
    """A per-test timeout for a fuzz test of ``default`` examples that takes well under
    ``seconds`` in ``make test``, scaled to the number of examples ``make fuzz`` runs."""
    return seconds * max(1.0, examples(default) / default)


def fuzz_settings(default: int) -> settings:
    """Settings of one fuzz test: ``default`` examples replayed identically in ``make test``;
    ``EGATE_FUZZ_EXAMPLES`` random ones in ``make fuzz``. No deadline: the machine is shared,
    and a hang is what pytest-timeout's per-test limit catches."""
    return settings(
        max_examples=examples(default),
        derandomize=not fuzzing(),
        database=None,
        deadline=None,
        suppress_health_check=SLOW_OK,
        print_blob=True,
    )


settings.register_profile(
    "egate-fuzz",
    max_examples=examples(100),
    deadline=None,
    database=None,
    suppress_health_check=SLOW_OK,
)
