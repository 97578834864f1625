"""Scenario files: the default one, kinds and aliases, photos relative to the file, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.errors import ConfigError
from gate.outcome import Decision, Transaction
from gate.simulate.report import TravellerResult, format_table, summary
from gate.simulate.scenario import (
    DEFAULT_SCENARIO,
    EXPECTED_DECISION,
    TRAVELLER_KINDS,
    load_scenario,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "scenarios"


def test_default_scenario_covers_every_kind_with_ten_or_more() -> None:
    scenario = load_scenario(None)
    assert scenario.source == DEFAULT_SCENARIO
    assert len(scenario.travellers) >= 10
    assert {t.kind for t in scenario.travellers} == set(TRAVELLER_KINDS)
    for t in scenario.travellers:
        assert t.expect is EXPECTED_DECISION[t.kind]
        assert t.photo.startswith("sample:")


def test_shipped_example_scenarios_load() -> None:
    files = sorted(EXAMPLES.glob("*.toml"))
    assert files
    for path in files:
        assert load_scenario(path).travellers


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "faces").mkdir(exist_ok=True)
    (tmp_path / "faces" / "a.jpg").write_bytes(b"not checked here")
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_relative_photo_alias_kind_and_expect_override(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[[traveller]]
kind = "Tampered chip"
photo = "faces/a.jpg"
expect = "refer-device"
""",
    )
    (t,) = load_scenario(path).travellers
    assert t.kind == "tampered"
    assert t.photo == str(tmp_path / "faces" / "a.jpg")
    assert t.expect is Decision.REFER_DEVICE
    assert load_scenario(path).name == "s"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[traveller]]\nkind='genuine'\nphoto='faces/a.jpg'\ncolour=1\n", "traveller[0].colour"),
        ("[[traveller]]\nkind='alien'\nphoto='faces/a.jpg'\n", "traveller[0].kind"),
        ("[[traveller]]\nkind='genuine'\nphoto='faces/none.jpg'\n", "traveller[0].photo"),
        ("[[traveller]]\nkind='genuine'\n", "traveller[0].photo"),
        ("[[traveller]]\nkind='impostor'\nphoto='faces/a.jpg'\n", "live_photo"),
        (
            "[[traveller]]\nkind='substituted_photo'\nphoto='faces/a.jpg'\n",
            "traveller[0].live_photo: required for a substituted photo",
        ),
        (
            "[[traveller]]\nkind='print'\nphoto='faces/a.jpg'\nlive_photo='faces/a.jpg'\n",
            "traveller[0].live_photo: only a genuine traveller",
        ),
        ("[[traveller]]\nkind='genuine'\nphoto='faces/a.jpg'\nexpect='MAYBE'\n", "expect"),
        (
            "[[traveller]]\nkind='genuine'\nphoto='faces/a.jpg'\nnationality='ZZZ'\n",
            "traveller[0].nationality: nationality 'ZZZ' is not",
        ),
        (
            "[[traveller]]\nkind='genuine'\nphoto='faces/a.jpg'\nnationality=3\n",
            "traveller[0].nationality",
        ),
        ("[scenario]\nname='x'\nspeed=3\n", "scenario.speed"),
        ("[scenario]\nname='x'\n", "at least one traveller"),
        ("[people]\n", "[people]"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_scenario(_write(tmp_path, text))
    assert message in str(exc.value)


def test_nationality_defaults_to_the_test_country() -> None:
    travellers = load_scenario(None).travellers
    assert travellers[0].nationality == "FRA"  # the demo's French traveller (--screen)
    assert {t.nationality for t in travellers[1:]} == {"UTO"}


def test_repeated_cycles_and_rejects_zero() -> None:
    scenario = load_scenario(None)
    longer = scenario.repeated(len(scenario.travellers) + 2)
    assert longer.travellers[-1] == scenario.travellers[1]
    with pytest.raises(ConfigError):
        scenario.repeated(0)


def test_table_and_summary_flag_differences() -> None:
    tx = Transaction("t1", 0.0, 1.0, Decision.REJECT_MISMATCH, score=0.7, detail="far")
    good = TravellerResult(0, "ana", "impostor", Decision.REJECT_MISMATCH, tx)
    bad = TravellerResult(1, "bo", "genuine", Decision.ACCEPT, tx)
    broken = TravellerResult(2, "cy", "genuine", Decision.ACCEPT, None, error="setup failed")
    table = format_table([good, bad, broken])
    assert "1/3 outcomes as expected" in table
    assert "#2 bo: far" in table and "#3 cy: setup failed" in table
    data = summary("x", [good, bad, broken], {"speed": 1.0})
    assert data["passed"] is False and data["as_expected"] == 1
    assert data["travellers"][0]["actual"] == "REJECT_MISMATCH"
    assert data["travellers"][2]["actual"] is None
    assert summary("x", [good], {})["passed"] is True
    assert "document to exit command" not in table  # nobody genuine got as far as the exit
    waits = [
        TravellerResult(
            i,
            f"g{i}",
            "genuine",
            Decision.ACCEPT,
            Transaction("t", 0.0, 1.0, Decision.ACCEPT, stage_ms={"document_to_exit_command": ms}),
        )
        for i, ms in enumerate((900.0, 1100.0, 3000.0))
    ]
    table = format_table([*waits, good])
    assert "genuine travellers, document to exit command (n=3): p50 1.10 s, max 3.00 s" in table


def test_photo_library_files_samples_and_errors(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from gate.errors import ImageError
    from gate.simulate.faces import PORTRAIT_SIZE, PhotoLibrary
    from gate.types import Box, Detection, Face, Landmarks5

    def face_at(x: float) -> Face:
        points = ((x + 40, 60.0), (x + 30, 60.0), (x + 10, 60.0), (x + 20, 60.0), (x + 25, 80.0))
        return Face(Detection(Box(x, 40, x + 50, 100), 1.0), Landmarks5(points))

    calls: list[tuple[int, ...]] = []

    def analyze(image: np.ndarray) -> list[Face]:
        calls.append(image.shape)
        return [face_at(200.0), face_at(20.0)]  # not in left-to-right order

    group = np.zeros((400, 400, 3), np.uint8)
    group[:, :200] = (255, 0, 0)  # the left person is blue, the right one red
    group[:, 200:] = (0, 0, 255)
    cv2.imwrite(str(tmp_path / "group.png"), group)
    library = PhotoLibrary(analyze)
    left = library.portrait(str(tmp_path / "group.png"))
    assert left.shape == (PORTRAIT_SIZE[1], PORTRAIT_SIZE[0], 3)
    # no index: the largest face, and among equals the most central one (the right, red
    # one here), as a data set's subject is; a bystander is never enrolled
    assert left[150, 120, 2] > 200 and left[150, 120, 0] < 50
    assert library.portrait(str(tmp_path / "group.png")) is left and len(calls) == 1
    right = library.portrait("sample:t1.jpg#1")
    assert right.shape == left.shape
    with pytest.raises(ConfigError, match="only 2 found"):
        library.portrait("sample:t1.jpg#5")
    with pytest.raises(ConfigError, match="no sample picture"):
        library.portrait("sample:nobody.jpg")
    with pytest.raises(ImageError):
        library.portrait(str(tmp_path / "missing.png"))


# -- hostile scenario files (issue "Safety and integrity", part 6) ------------------------------


@pytest.mark.parametrize("index", ["²", "٣", "1x", "-1", "99999"])
def test_sample_face_index_must_be_ascii_digits(tmp_path: Path, index: str) -> None:
    """'²'.isdigit() is True but int('²') fails: the simulator used to crash on it."""
    path = _write(tmp_path, f"[[traveller]]\nkind='genuine'\nphoto='sample:t1.jpg#{index}'\n")
    with pytest.raises(ConfigError, match=r"traveller\[0\]\.photo: face index"):
        load_scenario(path)


def test_sample_name_must_be_a_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "[[traveller]]\nkind='genuine'\nphoto='sample:../../etc/passwd'\n")
    with pytest.raises(ConfigError, match="a file name"):
        load_scenario(path)


@pytest.mark.parametrize("seed", ["-1", "4294967296", "1.5"])
def test_seed_must_be_a_non_negative_32_bit_integer(tmp_path: Path, seed: str) -> None:
    text = f"[scenario]\nseed = {seed}\n[[traveller]]\nkind='genuine'\nphoto='faces/a.jpg'\n"
    with pytest.raises(ConfigError, match="scenario.seed"):
        load_scenario(_write(tmp_path, text))


@pytest.mark.timeout(30)
def test_deep_scenario_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "[[traveller]]\nkind = " + "[" * 30_000 + "]" * 30_000 + "\n")
    with pytest.raises(ConfigError, match="nested more than 32 levels deep"):
        load_scenario(path)


@pytest.mark.timeout(30)
def test_fifo_scenario_and_fifo_photo_are_refused(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "scenario.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="FIFO"):
        load_scenario(fifo)
    os.mkfifo(tmp_path / "faces.jpg")
    path = _write(tmp_path, "[[traveller]]\nkind='genuine'\nphoto='faces.jpg'\n")
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_scenario(path)


def test_a_genuine_traveller_may_walk_in_with_another_photo(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "[[traveller]]\nkind='genuine'\nphoto='faces/a.jpg'\nlive_photo='faces/a.jpg'\n",
    )
    (t,) = load_scenario(path).travellers
    assert t.kind == "genuine" and t.expect is Decision.ACCEPT
    assert t.live_photo == str(tmp_path / "faces" / "a.jpg")


def test_a_traveller_answers_or_ignores_the_challenge(tmp_path: Path) -> None:
    from gate.simulate.scenario import scenario_from_mapping

    people = [
        {"kind": "genuine", "photo": "sample:t1.jpg#3"},
        {"kind": "genuine", "photo": "sample:t1.jpg#3", "challenge": "ignore"},
    ]
    scenario = scenario_from_mapping({"traveller": people}, tmp_path)
    assert [t.challenge for t in scenario.travellers] == ["answer", "ignore"]
    people[1]["challenge"] = "blink twice"
    with pytest.raises(ConfigError, match=r"traveller\[1\]\.challenge: expected one of answer"):
        scenario_from_mapping({"traveller": people}, tmp_path)


def test_the_json_report_explains_liveness() -> None:
    from gate.outcome import LivenessEvidence

    evidence = LivenessEvidence(0.4, "inconclusive", {"motion": 0.1}, "turn_right", "passed")
    tx = Transaction("t1", 0.0, 1.0, Decision.ACCEPT, liveness=0.4, liveness_evidence=evidence)
    row = TravellerResult(0, "still", "genuine", Decision.ACCEPT, tx).to_json()
    assert row["liveness_evidence"]["cues"] == {"motion": 0.1}
    assert row["liveness_evidence"]["challenge_result"] == "passed"
    assert tx.summary()["liveness_evidence"] == evidence.as_dict()
    plain = TravellerResult(1, "x", "no_face", Decision.REFER_CAPTURE, None, "error").to_json()
    assert plain["liveness_evidence"] is None
