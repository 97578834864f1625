"""Shared fixtures: where the real LFW dev data and the sample photos live."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LFW_DEV = PROJECT_ROOT.parent / "shared" / "datasets" / "lfw-dev"


@pytest.fixture(scope="session")
def lfw_dev() -> Path:
    """The LFW dev folds beside the project; tests skip with the reason when absent."""
    if not (LFW_DEV / "pairs.csv").is_file():
        pytest.skip(f"LFW dev data not found at {LFW_DEV} (only on the developers' machines)")
    return LFW_DEV


@pytest.fixture(scope="session")
def sample_images() -> Path:
    """The sample photos that ship inside the insightface wheel."""
    import insightface

    folder = Path(insightface.__file__).parent / "data" / "images"
    assert folder.is_dir(), f"insightface sample images missing at {folder}"
    return folder
