"""The replay's camera and clock on their own: the recorded frames one per read, stamped
with their recorded times, and the lane's clock held to the recorded reads during capture;
and the lane's settings from a kiosk config with the replay's devices."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gate.clock import SimulatedClock
from gate.errors import DeviceTimeoutError
from gate.record import RecordedFrame, Recording
from gate.simulate.replay import HOLD_MARGIN_S, Replay, ReplayCamera, ReplayClock, ReplayOptions


def _recorded(count: int) -> list[tuple[np.ndarray, RecordedFrame]]:
    """Frames taken every 0.1 s from 1.0 s after the start, each read 0.05 s later."""
    return [
        (np.full((8, 8, 3), i, np.uint8), RecordedFrame(Path(f"{i}.png"), 1.0 + i / 10, 7 + i,
                                                        1.05 + i / 10))
        for i in range(count)
    ]  # fmt: skip


def test_the_frames_come_one_per_read_with_their_recorded_times() -> None:
    base = SimulatedClock()
    clock = ReplayClock(base)
    camera = ReplayCamera(clock)
    camera.show(_recorded(3), (0.5, 1.5))
    base.sleep(100.0)
    camera.capture_started(clock.now())  # the lane enters CAPTURE at 100 s: origin 99.5 s
    frames = [camera.read(1.0) for _ in range(3)]
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 1, 2]
    assert [f.index for f in frames] == [7, 8, 9]  # the camera's numbers, gaps kept
    assert [f.timestamp for f in frames] == pytest.approx([100.5, 100.6, 100.7])


def test_a_slow_replay_sees_no_more_time_pass_than_the_recording_did() -> None:
    base = SimulatedClock()
    clock = ReplayClock(base)
    camera = ReplayCamera(clock)
    camera.show(_recorded(3), (0.5, 1.5))
    camera.capture_started(clock.now())
    start = clock.now()
    seen = []
    for _ in range(3):
        base.sleep(10.0)  # this machine takes 10 s a frame; the recording took 0.1 s
        camera.read(1.0)
        seen.append(clock.now() - start)
    # held to each recorded read (after the capture began at 0.5 s), less the margin
    expected = [1.05 - 0.5 - HOLD_MARGIN_S + i / 10 for i in range(3)]
    assert seen == pytest.approx(expected)
    # after the last frame, the capture ends when it ended (1.5 s), then time runs freely
    with pytest.raises(DeviceTimeoutError, match="the recording ends here"):
        camera.read(1.0)
    assert clock.now() - start == pytest.approx(1.0)
    clock.release()
    assert clock.now() == base.now()


def test_a_fast_replay_sees_as_much_time_pass_as_the_recording_did() -> None:
    clock = ReplayClock(SimulatedClock())  # this machine takes no time at all
    camera = ReplayCamera(clock)
    camera.show(_recorded(3), (0.5, 1.5))
    camera.capture_started(clock.now())
    start = clock.now()
    seen = []
    for _ in range(3):
        camera.read(1.0)
        seen.append(clock.now() - start)
    assert seen == pytest.approx([1.05 - 0.5 - HOLD_MARGIN_S + i / 10 for i in range(3)])
    camera.capture_ended()  # the capture gave its result as soon as the last frame was read
    assert clock.now() - start == pytest.approx(1.0)  # but it took as long as recorded
    clock.release()
    assert clock.now() - start == pytest.approx(1.0)  # and time goes on from there


def test_the_clock_never_goes_back() -> None:
    base = SimulatedClock()
    clock = ReplayClock(base)
    base.sleep(5.0)
    clock.hold(3.0)
    first = clock.now()
    clock.hold(2.0)  # an earlier hold does not move it back
    assert clock.now() == first == 3.0
    clock.release()
    assert clock.now() == 5.0


def test_a_kiosk_config_gives_the_lane_its_settings_with_the_replays_devices(
    tmp_path: Path,
) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(
        '[face]\npack = "dlib-cc0"\ntarget_fmr = "1e-4"\n[liveness]\nthreshold = 0.7\n'
        '[turnstile]\naddress = "gatectl:/dev/ttyUSB0"\n[audit]\npath = "/var/lib/egate/a.db"\n'
    )
    recording = Recording(tmp_path, "egate run", ())
    player = Replay(recording, ReplayOptions(config=config))
    player.emulator = SimpleNamespace(address="gatectl:loop://")  # type: ignore[assignment]
    lane = player.config(tmp_path / "replay.db")
    assert (lane.face.pack, lane.face.target_fmr, lane.liveness.threshold) == (
        "dlib-cc0", "1e-4", 0.7,
    )  # fmt: skip
    assert lane.turnstile.address == "gatectl:loop://" and lane.audit.path == tmp_path / "replay.db"
    other = Replay(recording, ReplayOptions(config=config, pack="sface"))
    other.emulator = player.emulator
    assert other.config(tmp_path / "r.db").face == lane.face.__class__("sface", "1e-4")
