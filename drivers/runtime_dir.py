"""Private runtime files: lock files in a folder only this user can enter, owned temp folders.

Lock files used to sit in ``/tmp`` (world-writable): another local user could plant a symlink
there (egate, as root, then created a file where that user chose) or hold the lock and block
the gate. Now they live in a private runtime folder:

- ``$XDG_RUNTIME_DIR/egate`` when that variable names a folder of ours that nobody else may
  write to, else ``/run/egate`` as root, else ``<tempdir>/egate-<uid>``;
- the folder is ours, mode 0700, not a symlink (checked through an ``O_NOFOLLOW`` descriptor,
  so it cannot be swapped between the check and the use), or it is refused;
- its files are opened with ``O_NOFOLLOW | O_CLOEXEC``, mode 0600, relative to that checked
  descriptor.

Locks therefore coordinate the processes of one user (on a kiosk: root); another user can
neither see nor hold them.

Temporary folders that hold test keys, photos or ptys are stamped with their owner's pid,
start time and pid namespace (``owned_temp_dir``); ``remove_stale_temp_dirs`` deletes those
whose owner is gone (killed with SIGKILL, machine reset), so they do not pile up.

``replace_symlink`` and ``remove_symlink`` point (and later remove) a well-known name at a
device without ever replacing or deleting a file someone else put there.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from gate.errors import DeviceError, DeviceTimeoutError

log = logging.getLogger(__name__)
FOLDER_NAME = "egate"
OWNER_FILE = "egate-owner.pid"  # "<pid> <start time> <pid namespace>" of a temp folder's owner
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_POLL_S = 0.05  # flock has no timeout: a waiting lock retries this often


def _unsafe_folder(st: os.stat_result) -> str | None:
    """Why a folder with this ``stat`` must not hold our runtime files, or None."""
    if not stat.S_ISDIR(st.st_mode):
        return "not a folder"
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not {os.geteuid()}"
    if st.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def _candidate_folders() -> list[Path]:
    candidates = []
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(xdg):
        try:
            base = os.stat(xdg)
        except OSError:
            base = None
        # A base of someone else's (sudo keeps the caller's variable) is not ours to use.
        if base is not None and _unsafe_folder(base) is None:
            candidates.append(Path(xdg) / FOLDER_NAME)
    if os.geteuid() == 0:
        candidates.append(Path("/run") / FOLDER_NAME)
    candidates.append(Path(tempfile.gettempdir()) / f"{FOLDER_NAME}-{os.geteuid()}")
    return candidates


def _open_private_folder(path: Path) -> int:
    """Create ``path`` (mode 0700) if missing; a descriptor on it once it is proven private."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        # ELOOP: a symlink (O_NOFOLLOW); ENOTDIR: a file; both are refused.
        raise DeviceError(f"refusing the runtime folder {path}: {exc.strerror}") from exc
    try:
        problem = _unsafe_folder(os.fstat(fd))
        if problem:
            raise DeviceError(f"refusing the runtime folder {path}: {problem}")
        os.fchmod(fd, 0o700)  # ours and not writable by others: only read bits can go
    except BaseException:
        os.close(fd)
        raise
    return fd


def _runtime_folder_fd() -> tuple[Path, int]:
    """The first candidate folder that can be created. One that exists but is not safe is
    refused outright: falling back would split one user's processes over two folders."""
    candidates = _candidate_folders()
    failure: OSError | None = None
    for path in candidates:
        try:
            return path, _open_private_folder(path)
        except DeviceError:
            raise
        except OSError as exc:  # cannot be made there (/run read-only, ...): the next one
            log.debug("runtime folder %s unusable: %s", path, exc)
            failure = exc
    reason = failure.strerror if failure is not None else "no candidate"
    raise DeviceError(f"cannot create the runtime folder {candidates[-1]}: {reason}")


def runtime_dir() -> Path:
    """The private runtime folder (created and checked on every call)."""
    path, fd = _runtime_folder_fd()
    os.close(fd)
    return path


def open_private(name: str, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    """A descriptor on the runtime file ``name`` (created with mode 0600), never through a
    symlink; the caller closes it."""
    if not name or "/" in name or name in (".", ".."):
        raise DeviceError(f"bad runtime file name {name!r}")
    folder, dir_fd = _runtime_folder_fd()
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise DeviceError(f"cannot open the runtime file {folder / name}: {exc.strerror}") from exc
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise DeviceError(f"refusing the runtime file {folder / name}: not a file of ours")
    return fd


class RuntimeLock:
    """An ``flock`` on a private runtime file, held until ``release`` (or the process ends)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._fd: int | None = None
        self.shared = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self, *, shared: bool = False) -> bool:
        """Take the lock if nobody holds it in a conflicting way; False otherwise."""
        if self._fd is not None:
            raise DeviceError(f"runtime lock {self.name} is already held by this object")
        fd = open_private(self.name)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd, self.shared = fd, shared
        return True

    def acquire(self, *, shared: bool = False, timeout: float, what: str) -> RuntimeLock:
        """Wait up to ``timeout`` s for the lock; ``DeviceTimeoutError`` naming ``what``."""
        deadline = time.monotonic() + timeout
        while not self.try_acquire(shared=shared):
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"{what} busy: another egate process holds it")
            time.sleep(_POLL_S)
        return self

    def try_exclusive(self) -> bool:
        """Turn a held shared lock into an exclusive one if nobody else holds it; a failed
        attempt keeps nothing (flock drops the shared lock while converting)."""
        if self._fd is None:
            return False
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._close()
            return False
        self.shared = False
        return True

    def release(self) -> None:
        self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock


# -- temporary folders stamped with their owner ---------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the command name may contain spaces
    return fields[19] if len(fields) > 19 else None


def _pid_namespace() -> str:
    """This process's pid namespace: a pid means something only inside its own."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


def _owner_alive(pid: int, started: str) -> bool:
    if started != "-" and Path("/proc/self/stat").exists():
        return _start_time(pid) == started  # None (no such process) or a reused pid: gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owned_temp_dir(prefix: str) -> Path:
    """A fresh temporary folder (mode 0700) stamped with this process's pid, start time and
    pid namespace (``OWNER_FILE``)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    stamp = f"{os.getpid()} {_start_time(os.getpid()) or '-'} {_pid_namespace()}\n"
    (folder / OWNER_FILE).write_text(stamp, encoding="ascii")
    return folder


def _stale(folder: Path) -> bool:
    try:
        st = folder.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            return False
        fd = os.open(folder / OWNER_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, encoding="ascii") as owner:
            pid_text, started, namespace = owner.read(128).split()
        if namespace != _pid_namespace():
            return False  # its owner's pid cannot be checked from here (a container)
        return not _owner_alive(int(pid_text), started)
    except (OSError, ValueError):
        return False  # no stamp (being created, or not ours): leave it alone


def remove_stale_temp_dirs(prefix: str = "egate-", root: Path | None = None) -> list[Path]:
    """Delete our ``prefix*`` temp folders whose owning process is gone; returns them."""
    root = root or Path(tempfile.gettempdir())
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    for folder in entries:
        if folder.name.startswith(prefix) and _stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                log.info("removed the stale temporary folder %s", folder)
                removed.append(folder)
    return removed


# -- well-known symlinks to devices ---------------------------------------------------------


def replace_symlink(target: str, link: Path, *, replaceable: str = "/dev/pts/") -> None:
    """Point ``link`` at ``target``. What is already at ``link`` is replaced only when it is
    a symlink into ``replaceable`` (an earlier emulator's pty), never a file, a folder or a
    link to anything else. The new link is made under a unique name, then renamed."""
    try:
        current = os.readlink(link)
    except FileNotFoundError:
        current = None
    except OSError as exc:  # EINVAL: a file or folder is there
        raise DeviceError(f"refusing to replace {link}: it exists and is not a symlink") from exc
    if current is not None and not current.startswith(replaceable):
        raise DeviceError(f"refusing to replace {link}: it links to {current}, not {replaceable}")
    for attempt in range(100):
        temporary = link.with_name(f".{link.name}.{os.getpid()}.{attempt}")
        try:
            os.symlink(target, temporary)
        except FileExistsError:
            continue
        break
    else:
        raise DeviceError(f"cannot make a temporary symlink beside {link}")
    try:
        os.replace(temporary, link)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise DeviceError(f"cannot point {link} at {target}: {exc.strerror}") from exc


def remove_symlink(link: Path, target: str) -> bool:
    """Remove ``link`` only if it is still a symlink to ``target``; True when removed."""
    try:
        if os.readlink(link) != target:
            return False
        link.unlink()
    except OSError:  # gone, not a symlink (EINVAL), or replaced meanwhile
        return False
    return True
