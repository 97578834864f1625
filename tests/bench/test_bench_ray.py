"""``egate bench accuracy --engine ray`` on a private local Ray: the local engine's figures,
and a re-run that takes every embedding from the shard cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.cli import EXIT_OK, main

pytest.importorskip("ray", reason="the 'ray' extra is not installed")
pytestmark = pytest.mark.slow

FIGURES = (
    "eer",
    "eer_threshold",
    "tar_at_fmr",
    "operating_points",
    "impostor_comparisons",
    "genuine_comparisons",
    "fta_images",
    "fta_reasons",
    "accuracy_at_default_threshold",
)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["bench", "accuracy", *args, "--json", "-", "--no-progress"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    pack = report["packs"][0]
    assert isinstance(pack, dict)
    return pack


def test_ray_engine_gives_the_local_figures_and_reuses_its_shards(
    square_people: Path,
    tiny_insightface_pack: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    common = ["--dataset", str(square_people), "--pack", str(tiny_insightface_pack)]
    common += ["--impostors", "all"]
    local = run(common, capsys)
    ray_args = [*common, "--engine", "ray", "--workers", "2", "--cache", str(tmp_path / "cache")]
    first = run(ray_args, capsys)
    for key in FIGURES:
        assert first[key] == local[key], key
    assert first["embedded_images"] == 13
    shards = list((tmp_path / "cache").rglob("shard-*.npz"))
    assert len(shards) == 1 and shards[0].stat().st_mode & 0o077 == 0
    again = run(ray_args, capsys)
    assert again["embedded_images"] == 0  # every shard came from the cache
    for key in FIGURES:
        assert again[key] == local[key], key


def test_an_unreachable_cluster_is_one_line_not_a_minute_of_retries(
    square_people: Path,
    tiny_insightface_pack: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on: bound, then closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["bench", "accuracy", "--dataset", str(square_people)]
    args += ["--pack", str(tiny_insightface_pack), "--engine", "ray"]
    args += ["--address", f"127.0.0.1:{port}", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"no Ray cluster answers at 127.0.0.1:{port}" in err[0], err
