"""Runtime files: the private runtime folder, its locks, owned temp folders, device symlinks,
and the atomic JSON summary. Every test points ``XDG_RUNTIME_DIR`` (or the temp folder) at
its own ``tmp_path``, so no lock here meets the machine's real ones."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.runtime_dir import (
    OWNER_FILE,
    RuntimeLock,
    open_private,
    owned_temp_dir,
    remove_stale_temp_dirs,
    remove_symlink,
    replace_symlink,
    runtime_dir,
)
from gate.errors import DeviceError, DeviceTimeoutError, InputError
from gate.simulate.report import write_json


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "xdg"
    base.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    return base


def test_runtime_folder_is_private_and_under_xdg(xdg: Path) -> None:
    folder = runtime_dir()
    assert folder == xdg / "egate"
    st = folder.lstat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == os.geteuid()


def test_a_readable_folder_of_ours_is_tightened_to_0700(xdg: Path) -> None:
    (xdg / "egate").mkdir(mode=0o755)
    runtime_dir()
    assert stat.S_IMODE((xdg / "egate").stat().st_mode) == 0o700


def test_a_symlinked_runtime_folder_is_refused(xdg: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "chosen-by-someone-else"
    elsewhere.mkdir(mode=0o700)
    (xdg / "egate").symlink_to(elsewhere)
    with pytest.raises(DeviceError, match="refusing the runtime folder"):
        runtime_dir()
    with pytest.raises(DeviceError, match="refusing the runtime folder"):
        open_private("pcscd.lock")
    assert list(elsewhere.iterdir()) == []


def test_a_world_writable_runtime_folder_is_refused(xdg: Path) -> None:
    (xdg / "egate").mkdir()
    os.chmod(xdg / "egate", 0o777)
    with pytest.raises(DeviceError, match="writable by group or others"):
        runtime_dir()


def test_a_runtime_folder_owned_by_someone_else_is_refused(xdg: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a folder owned by another user needs root")
    (xdg / "egate").mkdir(mode=0o700)
    os.chown(xdg / "egate", 54321, 54321)
    with pytest.raises(DeviceError, match="owned by uid 54321"):
        runtime_dir()


def test_an_unsafe_xdg_base_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # like /tmp: anyone could have made shared/egate
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    if os.geteuid() == 0:
        assert runtime_dir() == Path("/run/egate")
    else:
        assert runtime_dir() == tmp_path / f"egate-{os.geteuid()}"
    assert not (shared / "egate").exists()


def test_runtime_files_are_0600_and_never_follow_a_symlink(xdg: Path, tmp_path: Path) -> None:
    fd = open_private("vpcd-35963.lock")
    os.close(fd)
    path = runtime_dir() / "vpcd-35963.lock"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    victim = tmp_path / "victim.txt"
    (runtime_dir() / "pcscd.lock").symlink_to(victim)
    with pytest.raises(DeviceError, match="pcscd.lock"):
        open_private("pcscd.lock")
    assert not victim.exists()  # nothing was created where the link pointed
    with pytest.raises(DeviceError, match="bad runtime file name"):
        open_private("../escape.lock")


def test_locks_exclude_and_share(xdg: Path) -> None:
    first, second = RuntimeLock("vpcd-1.lock"), RuntimeLock("vpcd-1.lock")
    assert first.try_acquire()
    assert not second.try_acquire()
    with pytest.raises(DeviceTimeoutError, match="the test port busy"):
        second.acquire(timeout=0.0, what="the test port")
    first.release()
    assert second.try_acquire()
    second.release()

    users = [RuntimeLock("pcscd.lock") for _ in range(2)]
    assert all(lock.try_acquire(shared=True) for lock in users)
    assert not users[0].try_exclusive()  # the other user still holds it: nothing is stopped
    assert not users[0].held
    assert users[1].try_exclusive()
    users[1].release()


def test_a_lock_is_released_when_its_process_dies(xdg: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from drivers.runtime_dir import RuntimeLock; "
            "lock = RuntimeLock('vpcd-2.lock'); assert lock.try_acquire(); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "held"
    lock = RuntimeLock("vpcd-2.lock")
    assert not lock.try_acquire()
    holder.kill()
    holder.wait()
    assert lock.try_acquire()
    lock.release()


# -- temp folders stamped with their owner -------------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _stamp(folder: Path, pid: int, started: str = "1", namespace: str = "") -> None:
    folder.mkdir()
    namespace = namespace or os.readlink("/proc/self/ns/pid")
    (folder / OWNER_FILE).write_text(f"{pid} {started} {namespace}\n")


def test_stale_temp_folders_are_removed_and_live_ones_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    live = owned_temp_dir("egate-sim-")
    assert stat.S_IMODE(live.stat().st_mode) == 0o700
    assert (live / OWNER_FILE).read_text().split()[0] == str(os.getpid())
    dead = tmp_path / "egate-sim-dead"
    _stamp(dead, _dead_pid())
    (dead / "ds-key.pem").write_text("test key")
    reused = tmp_path / "egate-pty-reused"  # our pid, but another process's start time
    _stamp(reused, os.getpid())
    elsewhere = tmp_path / "egate-sim-container"  # another pid namespace: cannot be judged
    _stamp(elsewhere, _dead_pid(), namespace="pid:[1]")
    unstamped = tmp_path / "egate-pty-unstamped"  # being created, or not ours: left alone
    unstamped.mkdir()
    other = tmp_path / "other-sim-dead"
    _stamp(other, _dead_pid())

    removed = remove_stale_temp_dirs("egate-")

    assert sorted(removed) == sorted([dead, reused])
    assert not dead.exists() and not reused.exists()
    assert live.is_dir() and unstamped.is_dir() and other.is_dir() and elsewhere.is_dir()


# -- well-known symlinks (the turnstile emulator's --link) ---------------------------------


def test_replace_symlink_never_replaces_a_file_or_a_foreign_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("someone's data")
    with pytest.raises(DeviceError, match="not a symlink"):
        replace_symlink("/dev/pts/7", victim)
    assert victim.read_text() == "someone's data"
    assert remove_symlink(victim, "/dev/pts/7") is False
    assert victim.read_text() == "someone's data"
    device = tmp_path / "ttyGATE"
    device.symlink_to("/dev/ttyUSB0")  # a udev link to a real adapter is not ours either
    with pytest.raises(DeviceError, match="links to /dev/ttyUSB0"):
        replace_symlink("/dev/pts/7", device)
    assert os.readlink(device) == "/dev/ttyUSB0"


def test_replace_and_remove_symlink(tmp_path: Path) -> None:
    link = tmp_path / "ttyGATE"
    replace_symlink("/dev/pts/7", link)
    replace_symlink("/dev/pts/8", link)  # re-plugged: ours from before is replaced
    assert os.readlink(link) == "/dev/pts/8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ttyGATE"]  # no temporary left
    assert remove_symlink(link, "/dev/pts/7") is False  # not ours any more: kept
    assert remove_symlink(link, "/dev/pts/8") is True
    assert not link.is_symlink()


# -- the JSON summary ------------------------------------------------------------------------


def test_write_json_replaces_the_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    out.write_text("old")
    os.chmod(out, 0o640)
    write_json(out, {"passed": True, "count": 3})
    assert json.loads(out.read_text()) == {"passed": True, "count": 3}
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_write_json_that_fails_leaves_nothing_half_written(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.mkdir()  # the rename over it fails after the data was written
    (target / "keep").write_text("x")
    with pytest.raises(InputError, match="cannot write the JSON summary"):
        write_json(target, {"passed": False})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
    assert (target / "keep").read_text() == "x"
    with pytest.raises(InputError, match="cannot write the JSON summary"):
        write_json(tmp_path / "missing" / "summary.json", {"passed": False})


@pytest.mark.slow
@pytest.mark.pcsc_isolated
def test_a_full_runtime_folder_stops_the_start_in_one_line_then_serves(tmp_path: Path) -> None:
    """No room for a lock file: the simulation does not start (nothing is half done), says
    which file in one line, and runs once there is room again."""
    from tests.drivers.chip.isolated import isolated

    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    # A tiny tmpfs whose inodes are all taken; "free" removes the filler files first.
    setup = (
        f"mount -t tmpfs -o size=64k,nr_inodes=8,mode=700 tmpfs {xdg} && mkdir -m 700 {xdg}/egate"
        f" && i=0; while touch {xdg}/egate/fill$i 2>/dev/null; do i=$((i+1)); done;"
        f' if [ "$1" = free ]; then rm -f {xdg}/egate/fill*; fi; shift; exec "$@"'
    )
    command = [sys.executable, "-m", "gate", "simulate", "--travellers", "1"]
    env = dict(os.environ, XDG_RUNTIME_DIR=str(xdg), PYTHONUNBUFFERED="1")
    root = Path(__file__).resolve().parents[2]

    def run(mode: str) -> subprocess.CompletedProcess[str]:
        argv = isolated(["sh", "-c", setup, "sh", mode, *command])
        return subprocess.run(
            argv, capture_output=True, text=True, env=env, cwd=root, timeout=240, check=False
        )

    full = run("full")
    assert full.returncode == 2, full.stderr[-2000:]
    errors = [line for line in full.stderr.splitlines() if line.startswith("egate: error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], full.stderr[-2000:]
    assert "Traceback" not in full.stderr
    served = run("free")
    assert served.returncode == 0, served.stderr[-2000:]
    assert "1/1 outcomes as expected" in served.stdout
