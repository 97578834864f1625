"""``egate bench pad --videos``: clips found, windows scored, attacks made from the clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.pad_attacks import INSTRUMENTS, plane_homography
from bench.pad_videos import BONA_FIDE, evaluate_videos, find_clips, summary_lines
from gate.errors import InputError
from tests.conftest import PROJECT_ROOT

REAL_VIDEO = PROJECT_ROOT.parent / "shared" / "datasets" / "real-video"


def test_the_folder_layout(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        find_clips(tmp_path / "missing")
    with pytest.raises(InputError, match="no bona fide clips"):
        find_clips(tmp_path)
    (tmp_path / "bonafide").mkdir()
    (tmp_path / "bonafide" / "a.mp4").write_bytes(b"")
    (tmp_path / "attacks" / "mask").mkdir(parents=True)
    (tmp_path / "attacks" / "mask" / "m.mp4").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a clip")
    found = find_clips(tmp_path)
    assert [p.name for p in found[BONA_FIDE]] == ["a.mp4"]
    assert [p.name for p in found["file:mask"]] == ["m.mp4"]


def test_the_plane_homography_is_the_identity_unturned_and_foreshortens_turned() -> None:
    flat = plane_homography(0.0, 800.0, (320.0, 240.0), (0.0, 0.0))
    assert np.allclose(flat / flat[2, 2], np.eye(3))
    turned = plane_homography(30.0, 800.0, (320.0, 240.0), (0.0, 0.0))
    ends = np.array([[220.0, 240.0, 1.0], [420.0, 240.0, 1.0]]) @ turned.T
    xs = ends[:, 0] / ends[:, 2]
    assert 0.7 * 200 < xs[1] - xs[0] < 0.95 * 200  # a 200 px width shows shorter


def test_attack_instruments_keep_the_frames_shape() -> None:
    frames = [np.full((48, 64, 3), 100 + i, np.uint8) for i in range(6)]
    for name, make in INSTRUMENTS.items():
        made = make(frames, 20.0, 1)
        assert len(made) == len(frames), name
        assert all(image.shape == (48, 64, 3) and image.dtype == np.uint8 for image in made)
    still = INSTRUMENTS["still"](frames, 20.0, 1)
    assert np.abs(still[0].astype(int) - still[-1].astype(int)).mean() < 5  # no motion


@pytest.mark.skipif(not REAL_VIDEO.is_dir(), reason=f"real clips not present at {REAL_VIDEO}")
def test_a_real_clip_is_never_refused_as_an_attack_and_turned_pictures_not_accepted(
    tmp_path: Path,
) -> None:
    from models.engine import load_engine

    (tmp_path / "podcast_smoke.gif").symlink_to(REAL_VIDEO / "podcast_smoke.gif")
    engine = load_engine(None)
    report = evaluate_videos(
        engine, tmp_path, instruments=("still", "turned_30_near"), window_s=1.0, step_s=0.25
    )
    bona = report["bona_fide"]
    assert bona["windows"] >= 3 and bona["attack"] == 0
    for name in ("still", "turned_30_near"):
        assert report["attacks"][name]["live"] == 0, report["attacks"][name]
    assert len(summary_lines(report)) == 4  # the windows, bona fide, two instruments
