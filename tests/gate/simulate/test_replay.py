"""A simulated run recorded with ``--record`` and played again with ``--replay``: with the same
pack every traveller gets the recorded outcome; with another pack, that pack decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.outcome import Decision
from gate.record import RecordSettings, load_recording
from gate.simulate.replay import ReplayOptions, replay
from gate.simulate.report import TravellerResult
from gate.simulate.runner import Simulation, SimulationOptions
from gate.simulate.scenario import load_scenario

SCENARIO = """
[scenario]
name = "replayed"
seed = 3

[[traveller]]
name = "genuine"
kind = "genuine"
photo = "sample:t1.jpg#0"

[[traveller]]
name = "impostor"
kind = "impostor"
photo = "sample:t1.jpg#1"
live_photo = "sample:t1.jpg#0"
"""
OTHER_PACK = "sface"
SPEED = 4.0  # the gate clock 4 times real time; lock-step keeps the frames the same


@pytest.fixture(scope="module")
def recorded(
    pack_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[TravellerResult]]:
    """Two travellers through a simulated lane, recorded."""
    work = tmp_path_factory.mktemp("replay")
    scenario_file = work / "scenario.toml"
    scenario_file.write_text(SCENARIO)
    folder = work / "recording"
    options = SimulationOptions(
        use_pcsc=False, speed=SPEED, record=RecordSettings(folder, 1, "egate simulate")
    )
    with Simulation(load_scenario(scenario_file), options) as simulation:
        results = simulation.run()
    return folder, results


def test_the_recording_holds_each_traveller_as_it_went(
    recorded: tuple[Path, list[TravellerResult]],
) -> None:
    folder, results = recorded
    recording = load_recording(folder)
    assert [t.label for t in recording.transactions] == ["genuine", "impostor"]
    for transaction, result in zip(recording.transactions, results, strict=True):
        assert result.transaction is not None
        assert transaction.transaction_id == result.transaction.transaction_id
        assert transaction.outcome is result.actual
        assert transaction.kind == result.kind and transaction.expected is result.expected
        assert transaction.frames and transaction.document is not None
        assert {"DG1", "DG2", "EF.SOD"} <= set(transaction.document.files)


def test_a_replay_with_the_same_pack_gives_every_recorded_outcome(
    recorded: tuple[Path, list[TravellerResult]],
) -> None:
    folder, results = recorded
    replayed = replay(load_recording(folder), ReplayOptions(speed=SPEED))
    assert [r.actual for r in replayed] == [r.actual for r in results]
    assert all(r.ok for r in replayed)  # the recorded outcome is what a replay expects
    for again, first in zip(replayed, results, strict=True):
        assert again.transaction is not None and first.transaction is not None
        assert again.transaction.pack_id == first.transaction.pack_id
        if first.transaction.score is not None:  # the same frames, the same chip photo
            assert again.transaction.score == pytest.approx(first.transaction.score, abs=0.5)


def test_a_replay_with_another_pack_gives_that_packs_outcomes(
    recorded: tuple[Path, list[TravellerResult]],
) -> None:
    """Each replayed transaction is measured and decided by the other pack: its id, its
    threshold, its own liveness and scores, and the lane's rules on those figures."""
    from gate.decision import DecisionPolicy
    from models.engine import load_engine

    folder, results = recorded
    other = load_engine(OTHER_PACK)
    threshold = other.threshold("1e-3")
    live_enough = DecisionPolicy().liveness_threshold
    replayed = replay(load_recording(folder), ReplayOptions(pack=OTHER_PACK, speed=SPEED))
    for again, first in zip(replayed, results, strict=True):
        tx, before = again.transaction, first.transaction
        assert tx is not None and before is not None
        assert before.pack_id != other.pack_id and tx.pack_id == other.pack_id
        if tx.score is not None and before.score is not None:  # its own embeddings
            assert tx.score != pytest.approx(before.score, abs=1e-6)
        if tx.decision is Decision.REFER_LIVENESS:
            assert tx.liveness is not None and tx.liveness < live_enough
        else:
            assert tx.decision in (Decision.ACCEPT, Decision.REJECT_MISMATCH), tx.detail
            assert tx.threshold == pytest.approx(threshold) and tx.score is not None
            assert (tx.decision is Decision.ACCEPT) == (tx.score <= threshold)
