"""``docs/first-lane.md`` followed command by command (issue 25): its shell blocks, in order,
as one bash script (``tests.gate.lane.first_lane``), with a PC/SC stack and a loopback of
its own (the page's fixed port and pcscd are then nobody else's). One traveller: the lane
must accept them, the emulator's status socket answer while the lane holds the port, and
the audit chain verify, as the page says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.conftest import PROJECT_ROOT
from tests.drivers.chip.isolated import isolated, isolated_env
from tests.gate.lane.first_lane import page_steps, write_script

PAGE = PROJECT_ROOT / "docs" / "first-lane.md"


def test_the_page_is_read_as_its_terminals_and_commands() -> None:
    kinds = [step.kind for step in page_steps(PAGE.read_text(encoding="utf-8"))]
    # install skipped; three device terminals, then the lane; a traveller; a stop; the audit
    assert kinds.count("skip") == 1 and kinds.count("background") == 4
    assert kinds.index("wait") < kinds.index("stop") < len(kinds) - 2
    assert kinds[-2:] == ["run", "output"]


def _portrait(folder: Path) -> None:
    """What the page asks the reader to bring: a portrait of the test traveller."""
    from gate.simulate.faces import PhotoLibrary
    from models.engine import load_engine

    engine = load_engine(None)
    portrait = PhotoLibrary(lambda im: engine.analyze(im, min_face=40)).portrait("sample:t1.jpg#0")
    assert cv2.imwrite(str(folder / "portrait.jpg"), portrait)


@pytest.mark.slow
@pytest.mark.pcsc_isolated
def test_the_first_lane_page_works_command_by_command(pack_folder: Path, tmp_path: Path) -> None:
    lane = tmp_path / "lane"
    lane.mkdir()
    _portrait(lane)
    script = tmp_path / "first-lane.sh"
    write_script(PAGE, script)
    env = isolated_env(tmp_path / "runtime")
    env.update(EGATE_PYTHON=sys.executable, PYTHONPATH=str(PROJECT_ROOT))
    done = subprocess.run(
        isolated(["bash", str(script)]),
        env=env,
        cwd=lane,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    logs = "".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
        for log in sorted(lane.glob("bg-*.log"))
    )
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n{logs}"
    lane_log = (lane / "bg-3.log").read_text()
    assert "transaction " in lane_log and " ACCEPT: face verified" in lane_log
    assert "L898902C3" not in lane_log and "DOE" not in lane_log  # no document data logged
    assert "audit chain intact: 2 rows" in done.stdout
    assert "door exit open" in (lane / "bg-1.log").read_text()
