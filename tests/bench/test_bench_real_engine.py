"""The harness through the real face engine: tiny InsightFace-shaped ONNX models, and the
real dlib pack on a subset of lfw-dev (skipped with the reason where either is missing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gate.cli import EXIT_OK, main
from tests.bench.squares import square_scene


def test_accuracy_and_calibrate_through_the_real_engine(
    square_people: Path, tiny_insightface_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = str(tiny_insightface_pack)
    args = ["--dataset", str(square_people), "--pack", pack, "--impostors", "all"]
    assert main(["bench", "accuracy", *args, "--json", "-", "--no-progress"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["fta_images"] == 1  # the black picture has no face
    assert report["packs"][0]["fta_reasons"] == {"NoFaceError: no face": 1}
    # 12 acquired images in 4 identities of 3: 66 pairs, 12 within identities
    assert report["impostor_comparisons"] == 66 - 12
    # scores separate perfectly, but the 3 genuine pairs with the black picture never match
    assert report["genuine"] == 15
    assert report["eer"] == pytest.approx(3 / 15)
    assert report["environment"]["packs"][0]["files_sha256"]
    assert (
        main(
            ["bench", "calibrate", "--pack", pack, "--dataset", str(square_people), "--no-progress"]
        )
        == EXIT_OK
    )
    from models.engine import load_engine

    engine = load_engine(tiny_insightface_pack, threads=1)
    assert set(engine.manifest.thresholds) >= {"1e-2", "1e-3", "1e-4"}
    assert "54 impostor comparisons" in engine.manifest.calibration


@pytest.mark.slow
def test_lfw_dev_subset_with_the_dlib_pack(
    lfw_dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gate.errors import ModelError
    from models.pack import pack_dir

    try:
        pack_dir("dlib-cc0")
    except ModelError as exc:
        pytest.skip(f"dlib-cc0 pack not prepared here ({exc})")
    out = tmp_path / "lfw.json"
    code = main(
        [
            "bench",
            "accuracy",
            "--dataset",
            str(lfw_dev / "pairs.txt"),
            "--limit",
            "60",
            "--impostors",
            "2000",
            "--json",
            str(out),
            "--report",
            str(tmp_path / "r"),
            "--no-progress",
        ]
    )
    assert code == EXIT_OK, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["pairs"] == 60
    assert report["fta_images"] <= 2
    assert report["impostor_comparisons"] >= 1900
    assert report["accuracy_at_default_threshold"] >= 0.9
    assert (tmp_path / "r" / "det.png").stat().st_size > 1000


def test_centre_face_choice_picks_the_centred_person(tiny_insightface_pack: Path) -> None:
    from bench.accuracy import EmbedOptions, embed_images
    from bench.datasets import Dataset, ImageRef
    from models.engine import load_engine

    engine = load_engine(tiny_insightface_pack, threads=1)
    alone = square_scene(1, 0)
    crowded = alone.copy()
    crowded[192:224, 192:224, 2] = 255  # a second 'face' in the corner, another pattern
    other = square_scene(2, 0)
    crowded[176:256, 176:256, :2] = other[80:160, 80:160, :2]
    assert len(engine.analyze(crowded)) > len(engine.analyze(alone))

    def as_png(image: np.ndarray) -> bytes:
        import cv2

        return cv2.imencode(".png", image)[1].tobytes()

    refs = (ImageRef("alone", data=as_png(alone)), ImageRef("crowded", data=as_png(crowded)))
    ds = Dataset(Path("mem"), "test", refs, np.array([0]), np.array([1]), np.array([True]), None)
    centre = embed_images(engine, ds, progress=False, options=EmbedOptions(face="centre"))
    vectors = centre.vectors
    assert engine.distance(vectors[0], vectors[1]) < 0.02
    faces = engine.analyze(crowded)
    corner = max(faces, key=lambda f: f.detection.box.left)
    corner_embedding = engine.embed(crowded, [corner])[0]
    assert engine.distance(vectors[0], corner_embedding) > 0.1


def require_dlib_pack() -> None:
    from gate.errors import ModelError
    from models.pack import pack_dir

    try:
        pack_dir("dlib-cc0")
    except ModelError as exc:
        pytest.skip(f"dlib-cc0 pack not prepared here ({exc})")


@pytest.mark.slow
def test_pad_report_on_synthetic_scenes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_dlib_pack()
    code = main(
        [
            "bench",
            "pad",
            "--photos",
            "sample:Tom_Hanks_54745.png",
            "--seeds",
            "1",
            "--frames",
            "6",
            "--report",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == EXIT_OK, capsys.readouterr().err
    report = json.loads((tmp_path / "pad.json").read_text())
    assert report["bona_fide"]["presentations"] == 1
    assert set(report["attacks"]) == {"print", "screen"}
    assert all(a["presentations"] == 1 for a in report["attacks"].values())
    assert (tmp_path / "pad_scores.png").read_bytes()[:4] == b"\x89PNG"
    assert "APCER" in capsys.readouterr().out


@pytest.mark.slow
def test_throughput_of_one_accelerated_traveller(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_dlib_pack()
    code = main(
        [
            "bench",
            "throughput",
            "--travellers",
            "1",
            "--speed",
            "4",
            "--no-pcsc",
            "--report",
            str(tmp_path),
        ]
    )
    assert code == EXIT_OK, capsys.readouterr().err
    report = json.loads((tmp_path / "throughput.json").read_text())
    run = report["runs"][0]
    assert run["travellers"] == 1 and run["speed"] == 4
    assert sum(run["decisions"].values()) == 1
    assert run["travellers_per_hour"] > 0 and run["cpu_s"] > 0
    assert run["camera"]["frames_captured"] > 0
    assert "capture.total" in run["stages_ms"]
    assert "| `document` p50/p95/p99 ms |" in (tmp_path / "throughput.md").read_text()


def test_insightface_bin_through_the_cli(
    tmp_path: Path, tiny_insightface_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pickle

    import cv2

    def jpeg(identity: int, sample: int) -> bytes:
        return cv2.imencode(".png", square_scene(identity, sample))[1].tobytes()

    blobs, flags = [], []
    for identity in range(3):
        blobs += [jpeg(identity, 0), jpeg(identity, 1)]
        flags.append(True)
        blobs += [jpeg(identity, 2), jpeg((identity + 1) % 3, 2)]
        flags.append(False)
    path = tmp_path / "tiny_verification.bin"
    path.write_bytes(pickle.dumps((blobs, flags), protocol=4))
    pack = str(tiny_insightface_pack)
    args = ["bench", "accuracy", "--dataset", str(path), "--pack", pack, "--no-progress"]
    assert main([*args, "--json", "-"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"]["format"] == "insightface-bin"
    assert report["pairs"] == 6 and report["genuine"] == 3 and report["impostor"] == 3
    assert report["fta_images"] == 0 and report["eer"] == 0.0
    assert main([*args, "--impostors", "all"]) == 2
    assert "people behind the images are unknown" in capsys.readouterr().err
