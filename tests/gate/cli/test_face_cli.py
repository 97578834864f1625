"""`egate verify`, `egate embed`, `egate models ...` on every bad input of issue 2.

Uses the tiny InsightFace-shaped pack (a white square on black is "a face") so the whole
CLI path runs in milliseconds; the real dlib pack is exercised in tests/models/test_engine_dlib.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.cli import main
from tests.models.pictures import write_huge_png

MIN_FACE = ["--min-face", "100"]


def scene(squares: int = 1) -> np.ndarray:
    image = np.zeros((480, 640, 3), np.uint8)
    image[192:224, 320:352] = 255
    if squares > 1:
        image[192:224, 64:96] = 255
    image[150:260, 280:400, 1] = np.arange(120, dtype=np.uint8)[None, :] * 2
    return image


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Every picture of the issue's bad-input list, generated in tmp."""
    files = {
        name: tmp_path / name
        for name in (
            "face.png",
            "text.jpg",
            "empty.jpg",
            "webp.jpg",
            "dot.png",
            "huge.png",
            "grey.png",
            "deep.png",
            "two.png",
        )
    }
    cv2.imwrite(str(files["face.png"]), scene())
    files["text.jpg"].write_text("not a picture at all\n")
    files["empty.jpg"].write_bytes(b"")
    files["webp.jpg"].write_bytes(
        cv2.imencode(".webp", scene(), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    )
    cv2.imwrite(str(files["dot.png"]), np.zeros((1, 1, 3), np.uint8))
    write_huge_png(files["huge.png"])
    cv2.imwrite(str(files["grey.png"]), scene()[:, :, 2])  # red channel as grey
    cv2.imwrite(str(files["deep.png"]), scene().astype(np.uint16) * 257)
    cv2.imwrite(str(files["two.png"]), scene(2))
    files["missing.jpg"] = tmp_path / "missing.jpg"
    return files


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def verify(
    capsys: pytest.CaptureFixture[str], pack: Path, left: Path, right: Path, *options: str
) -> tuple[int, str, str]:
    """``egate verify LEFT RIGHT`` with the tiny pack and its face size."""
    return run(capsys, "verify", str(left), str(right), "--pack", str(pack), *MIN_FACE, *options)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("text.jpg", r"text\.jpg: not a readable image \(the content is text\)"),
        ("empty.jpg", r"empty\.jpg: empty file \(0 bytes\)"),
        ("dot.png", r"dot\.png: image is 1x1 pixels, too small"),
        ("huge.png", r"huge\.png: image declares 12000x12000 \(144\.0 megapixels\), over the 50"),
        ("two.png", r"two\.png: 2 faces found \(verify needs exactly one face per picture\)"),
        ("missing.jpg", r"missing\.jpg: no such file"),
    ],
)
def test_verify_refuses_with_one_line(
    capsys: pytest.CaptureFixture[str],
    tiny_insightface_pack: Path,
    inputs: dict[str, Path],
    name: str,
    message: str,
) -> None:
    code, out, err = verify(capsys, tiny_insightface_pack, inputs["face.png"], inputs[name])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("egate: error: ")
    assert __import__("re").search(message, err), err


@pytest.mark.parametrize("name", ["webp.jpg", "grey.png", "deep.png", "face.png"])
def test_verify_accepts_decodable_variants(
    capsys: pytest.CaptureFixture[str],
    tiny_insightface_pack: Path,
    inputs: dict[str, Path],
    name: str,
) -> None:
    code, out, _ = verify(capsys, tiny_insightface_pack, inputs["face.png"], inputs[name], "--json")
    report = json.loads(out)
    assert report["decision"] in ("match", "no-match")
    assert code == (0 if report["decision"] == "match" else 1)
    assert report["distance"] <= report["threshold"] or code == 1
    assert set(report["timings_ms"]) >= {"read", "detect", "landmarks", "align", "embed"}
    if name == "face.png":
        assert report["distance"] == pytest.approx(0.0, abs=1e-5) and code == 0


def test_verify_no_face(
    capsys: pytest.CaptureFixture[str], tiny_insightface_pack: Path, tmp_path: Path
) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((100, 100, 3), np.uint8))
    code, _, err = run(
        capsys, "verify", str(blank), str(blank), "--pack", str(tiny_insightface_pack)
    )
    assert code == 2 and "blank.png: no face (of at least 40 px) found" in err


def test_verify_json_reports_the_reason(
    capsys: pytest.CaptureFixture[str], tiny_insightface_pack: Path, inputs: dict[str, Path]
) -> None:
    code, out, _ = verify(
        capsys, tiny_insightface_pack, inputs["face.png"], inputs["two.png"], "--json"
    )
    report = json.loads(out)
    assert code == 2 and report["decision"] == "undecided"
    assert report["reason"].endswith("2 faces found (verify needs exactly one face per picture)")


def test_verify_text_output(
    capsys: pytest.CaptureFixture[str], tiny_insightface_pack: Path, inputs: dict[str, Path]
) -> None:
    face = inputs["face.png"]
    code, out, _ = verify(capsys, tiny_insightface_pack, face, face, "--fmr", "1e-2")
    assert code == 0
    assert out.startswith("MATCH: distance 0.0000 (cosine), threshold 0.8000 at FMR 1e-2")
    assert "detect" in out and "embed" in out


def test_embed_continues_past_bad_images(
    capsys: pytest.CaptureFixture[str], tiny_insightface_pack: Path, inputs: dict[str, Path]
) -> None:
    names = ["face.png", "text.jpg", "two.png", "missing.jpg", "deep.png"]
    code, out, _ = run(
        capsys,
        "embed",
        *(str(inputs[n]) for n in names),
        "--pack",
        str(tiny_insightface_pack),
        *MIN_FACE,
        "--json",
    )
    results = json.loads(out)["results"]
    assert code == 1 and [Path(r["image"]).name for r in results] == names
    assert len(results[0]["embedding"]) == 512 and len(results[0]["landmarks"]) == 5
    assert "not a readable image" in results[1]["error"]
    assert "box" in results[2]  # policy largest: takes one of the two squares
    assert "no such file" in results[3]["error"]
    np.testing.assert_allclose(results[4]["embedding"], results[0]["embedding"], atol=1e-3)


def test_embed_single_policy_and_all_good_exit_zero(
    capsys: pytest.CaptureFixture[str], tiny_insightface_pack: Path, inputs: dict[str, Path]
) -> None:
    code, out, err = run(
        capsys,
        "embed",
        str(inputs["two.png"]),
        "--policy",
        "single",
        "--pack",
        str(tiny_insightface_pack),
        *MIN_FACE,
    )
    assert code == 1 and "two.png: 2 faces found" in err and out == ""
    code, out, _ = run(
        capsys, "embed", str(inputs["face.png"]), "--pack", str(tiny_insightface_pack), *MIN_FACE
    )
    assert code == 0 and len(out.splitlines()[2].split()) == 1 + 512


def test_missing_pack_is_an_error(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    inputs: dict[str, Path],
) -> None:
    monkeypatch.setenv("EGATE_HOME", str(tmp_path / "home"))
    code, _, err = run(capsys, "embed", str(inputs["face.png"]))
    assert code == 2 and "model pack 'fusion' is not installed" in err
    code, _, err = run(capsys, "models", "verify")
    assert code == 2 and "egate models prepare" in err
    code, _, err = run(capsys, "models", "list")
    assert code == 0 and "no packs installed" in err


def test_models_verify_names_the_changed_file(
    capsys: pytest.CaptureFixture[str], tiny_insightface_pack: Path
) -> None:
    from models.pack import write_thresholds

    write_thresholds(tiny_insightface_pack, {"1e-3": 0.7}, "test")  # writes a manifest
    code, out, _ = run(capsys, "models", "verify", str(tiny_insightface_pack))
    assert code == 0 and "2 files match" in out
    model = tiny_insightface_pack / "w600k_r50.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    code, _, err = run(capsys, "models", "verify", str(tiny_insightface_pack))
    assert code == 1 and "w600k_r50.onnx (recognition) has sha256" in err


def test_no_traceback_in_a_real_process(
    tiny_insightface_pack: Path, inputs: dict[str, Path]
) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gate",
            "verify",
            str(inputs["text.jpg"]),
            str(inputs["face.png"]),
            "--pack",
            str(tiny_insightface_pack),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "text.jpg: not a readable image" in proc.stderr
