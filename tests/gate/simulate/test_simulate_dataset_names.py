"""``egate simulate --dataset`` over identity folders whose file names are not UTF-8.

It used to die in ``cv2.imread(str(path))`` with a segfault (exit 139, no output): such a
name becomes a str with surrogates that OpenCV cannot take. Photos are now read as bytes
through the hardened file reader and decoded from memory by the one image decoder.
Needs the face pack (``make install``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.gate.simulate.people import face_crops

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def people_with_latin1_names(tmp_path: Path, sample_images: Path) -> Path:
    import cv2

    root = tmp_path / "people"
    for number, crop in enumerate(face_crops(sample_images)[:3]):
        folder = root / os.fsdecode(b"person\xe9%d" % number)  # Latin-1, not UTF-8
        folder.mkdir(parents=True)
        for name, picture in ((b"caf\xe9.jpg", crop), (b"na\xefve.jpg", crop[:, ::-1])):
            ok, data = cv2.imencode(".jpg", np.ascontiguousarray(picture))
            assert ok
            (folder / os.fsdecode(name)).write_bytes(data.tobytes())
    return root


def test_dataset_with_non_utf8_file_names(people_with_latin1_names: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    args = ["simulate", "--no-pcsc", "--dataset", str(people_with_latin1_names), "--limit", "2"]
    args += ["--json", str(tmp_path / "out.json")]
    done = subprocess.run(
        [sys.executable, "-m", "gate", *args], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert "2/2 outcomes as expected" in done.stdout, done.stdout[-2000:]
