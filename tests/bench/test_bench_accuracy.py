"""The accuracy harness and its CLI with an in-memory engine; the report files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import accuracy, datasets
from bench.dataset_formats import load_dataset
from gate.cli import EXIT_ERROR, EXIT_OK, main

HEADLINE = {
    "pairs",
    "genuine",
    "impostor",
    "fta_images",
    "eer",
    "tar_at_fmr",
    "impostor_comparisons",
    "accuracy_at_default_threshold",
    "images_per_second",
}


def test_each_image_embedded_once_and_fta_pairs_are_non_matches(
    pairs_csv: Path, fake_engine_class: Any
) -> None:
    engine = fake_engine_class()
    ds = load_dataset(pairs_csv)
    result = accuracy.evaluate_pack(engine, ds, progress=False)
    s = result.summary
    assert engine.embedded == len(ds.images) - 1  # the dark image failed, the rest once each
    assert s["fta_images"] == 1
    assert s["fta_pairs"] == {"genuine": 1, "impostor": 1}
    assert sum(s["fta_reasons"].values()) == 1
    assert s["pairs"] == 18 and s["genuine"] == 9 and s["impostor"] == 9
    # the dark genuine pair is a false non-match at any threshold
    assert np.isinf(result.genuine).sum() == 1
    assert s["operating_points"]["1e-2"]["false_non_matches"] >= 1
    # accuracy recomputed by hand from the pair distances
    gen, imp = result.genuine, result.impostor.values()
    t = s["default_threshold"]
    expected = (np.sum(gen <= t) + np.sum(imp > t)) / 18
    assert s["accuracy_at_default_threshold"] == pytest.approx(expected)


def test_impostor_expansion_uses_acquired_images_only(
    pairs_csv: Path, fake_engine_class: Any
) -> None:
    ds = load_dataset(pairs_csv)
    result = accuracy.evaluate_pack(fake_engine_class(), ds, impostors="all", progress=False)
    codes = ds.identity_codes
    assert codes is not None
    acquired_codes = np.delete(codes, [i for i, r in enumerate(ds.images) if "dark" in r.key])
    expected = datasets.count_cross_identity_pairs(acquired_codes)
    assert result.summary["impostor_comparisons"] == expected == result.impostor.size
    assert result.impostor.infinite == 0 and np.isfinite(result.impostor.values()).all()
    sampled = accuracy.evaluate_pack(fake_engine_class(), ds, impostors=20, seed=2, progress=False)
    assert sampled.summary["impostor_comparisons"] == 20
    assert "seed 2" in sampled.summary["impostor_source"]


def test_bin_datasets_cannot_expand_impostors(tmp_path: Path, fake_engine_class: Any) -> None:
    import pickle

    path = tmp_path / "x.bin"
    path.write_bytes(pickle.dumps(([b"a", b"b"], [True])))
    with pytest.raises(Exception, match="cannot expand impostors"):
        accuracy.impostor_scores(
            fake_engine_class(),
            accuracy.Embeddings(np.zeros((2, 1), np.float32), np.ones(2, bool), {}, 1.0),
            load_dataset(path),
            "all",
            0,
        )


def test_parse_impostors() -> None:
    assert accuracy.parse_impostors(None) is None
    assert accuracy.parse_impostors("ALL") == "all"
    assert accuracy.parse_impostors("500") == 500
    for bad in ("0", "-3", "many"):
        with pytest.raises(Exception, match="--impostors"):
            accuracy.parse_impostors(bad)


@pytest.fixture()
def fake_packs(monkeypatch: pytest.MonkeyPatch, fake_engine_class: Any) -> list[str]:
    opened: list[str] = []

    def open_engine(pack: str | None, threads: int = 0) -> Any:
        opened.append(str(pack))
        # a second pack with a different threshold, to see both side by side
        return fake_engine_class(str(pack), {"1e-3": 0.25 if pack != "strict" else 1e-6})

    monkeypatch.setattr(accuracy, "open_engine", open_engine)
    return opened


def test_cli_json_and_report_with_two_packs(
    pairs_csv: Path,
    tmp_path: Path,
    fake_packs: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out.json"
    folder = tmp_path / "report"
    argv = [
        "bench",
        "accuracy",
        "--pairs",
        str(pairs_csv),
        "--pack",
        "fake",
        "strict",
        "--json",
        str(out),
        "--report",
        str(folder),
        "--impostors",
        "all",
        "--no-progress",
    ]
    monkeypatch.setattr("sys.argv", ["/usr/bin/egate", *argv])
    code = main(argv)
    assert code == EXIT_OK
    assert fake_packs == ["fake", "strict"]
    report = json.loads(out.read_text())
    assert set(report) >= HEADLINE
    assert set(report["tar_at_fmr"]) == {"1e-2", "1e-3", "1e-4"}
    assert report["impostor_comparisons"] > report["impostor"]
    assert [p["pack"] for p in report["packs"]] == ["fake", "strict"]
    assert (
        report["packs"][1]["accuracy_at_default_threshold"]
        < report["packs"][0]["accuracy_at_default_threshold"]
    )
    env = report["environment"]
    assert env["cores"] >= 1 and env["packages"]["numpy"] == np.__version__
    assert env["command"].startswith("egate bench accuracy --pairs")
    assert env["packs"][0]["files_sha256"] == {"embedder": "ab" * 32}
    # the report folder: markdown, JSON and two valid PNGs
    from PIL import Image

    for name in ("det.png", "scores.png"):
        data = (folder / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(folder / name) as image:
            image.verify()
    page = (folder / "report.md").read_text()
    assert "failed to acquire" in page and "`strict`" in page and "det.png" in page
    assert json.loads((folder / "report.json").read_text())["pairs"] == 18
    printed = capsys.readouterr().out
    assert "fake:" in printed and "strict:" in printed


def test_cli_json_to_stdout_and_errors(
    pairs_csv: Path, tmp_path: Path, fake_packs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "bench",
                "accuracy",
                "--pairs",
                str(pairs_csv),
                "--json",
                "-",
                "--no-progress",
                "--limit",
                "6",
            ]
        )
        == EXIT_OK
    )
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == 6 and report["pack"] == "None"
    assert main(["bench", "accuracy", "--dataset", str(tmp_path / "missing.csv")]) == EXIT_ERROR
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "accuracy", "--pairs", str(pairs_csv), "--impostors", "x"]) == EXIT_ERROR
    assert "--impostors" in capsys.readouterr().err


def test_calibrate_writes_thresholds_into_a_real_manifest(
    identity_tree: Path,
    tiny_insightface_pack: Path,
    fake_packs: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from models.pack import load_manifest

    code = main(
        [
            "bench",
            "calibrate",
            "--pack",
            str(tiny_insightface_pack),
            "--dataset",
            str(identity_tree),
            "--no-progress",
        ]
    )
    assert code == EXIT_OK, capsys.readouterr().err
    manifest = load_manifest(tiny_insightface_pack)
    assert set(manifest.thresholds) >= {"1e-2", "1e-3", "1e-4"}
    assert all(math.isfinite(v) for v in manifest.thresholds.values())
    assert manifest.thresholds["1e-4"] <= manifest.thresholds["1e-2"]
    assert "impostor comparisons" in manifest.calibration
    assert "too few impostors" in manifest.calibration  # a 15-image tree cannot support 1e-4
    assert "FMR 1e-3: threshold" in capsys.readouterr().out


def test_centre_choice_needs_an_engine_that_lists_faces(
    pairs_csv: Path, fake_engine_class: Any
) -> None:
    class OnlyEmbedOne:
        pack_id = "minimal"
        distance_name = "euclidean"

        def __init__(self) -> None:
            self.inner = fake_engine_class()

        def embed_one(self, image: Any) -> Any:
            return self.inner.embed_one(image)

    ds = load_dataset(pairs_csv)
    with pytest.raises(Exception, match="cannot list faces"):
        accuracy.embed_images(OnlyEmbedOne(), ds, progress=False)
    largest = accuracy.EmbedOptions(face="largest")
    emb = accuracy.embed_images(OnlyEmbedOne(), ds, progress=False, options=largest)
    assert emb.fta_count == 1 and emb.acquired.sum() == len(ds.images) - 1


def test_default_threshold_prefers_the_nominal_one(pairs_csv: Path, fake_engine_class: Any) -> None:
    from types import SimpleNamespace

    engine = fake_engine_class()
    assert accuracy.default_threshold(engine) == (0.25, "calibrated FMR 1e-3 threshold")
    engine.manifest = SimpleNamespace(nominal_threshold=1e-6)
    threshold, source = accuracy.default_threshold(engine)
    assert threshold == 1e-6 and source.startswith("nominal")
    result = accuracy.evaluate_pack(engine, load_dataset(pairs_csv), progress=False)
    # at a tiny threshold no genuine pair matches: only the 9 impostor pairs are right
    assert result.summary["accuracy_at_default_threshold"] == pytest.approx(9 / 18)
    empty = fake_engine_class(thresholds={})
    assert accuracy.default_threshold(empty)[0] is None
