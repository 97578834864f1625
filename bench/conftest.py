"""Micro-benchmark plumbing: every pytest-benchmark JSON records egate's environment.

``make bench`` writes ``.benchmarks/latest.json``; its ``machine_info`` gains an ``egate``
block (CPU model, usable cores, package versions, the installed packs' file hashes) so two
result files can be compared only when they should be (``pytest-benchmark compare``).
"""

from __future__ import annotations

from typing import Any

import pytest


def _installed_packs() -> list[dict[str, Any]]:
    from bench.environment import describe_pack
    from gate.errors import GateError
    from models.pack import list_packs, load_manifest

    packs = []
    for folder in list_packs():
        try:
            manifest = load_manifest(folder)
        except GateError:
            continue
        packs.append(describe_pack(manifest.id, manifest.distance, manifest))
    return packs


@pytest.hookimpl(optionalhook=True)  # only called where pytest-benchmark is installed
def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    from bench.environment import describe_environment

    environment = describe_environment()
    environment["packs"] = _installed_packs()
    machine_info["egate"] = environment
