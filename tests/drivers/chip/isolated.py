"""Run a command with a PC/SC stack of its own: private mount and network namespaces.

pcscd's socket (``/run/pcscd``) and vpcd's TCP ports are fixed, so on a shared machine a
test that kills "its" pcscd would kill everyone's. Inside ``unshare --mount --net`` the
command sees an empty ``/run/pcscd`` (a tmpfs) and its own loopback, so egate starts a pcscd
that nobody else uses; ``XDG_RUNTIME_DIR`` gives it its own lock folder too. A pid namespace
makes the command its init: when it ends, the kernel ends every process it left behind (a
pcscd that a failing test did not stop).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

_SETUP = 'ip link set lo up && mount -t tmpfs tmpfs /run/pcscd && exec "$@"'
_UNSHARE = ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc"]


@functools.cache
def isolation_problem() -> str | None:
    """Why an isolated PC/SC stack cannot be made here, or None."""
    from drivers.chip.pcscd import pcscd_available

    problem = pcscd_available()
    if problem:
        return f"PC/SC path unavailable: {problem}"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/run/pcscd").is_dir():
        return "/run/pcscd does not exist"
    probe = subprocess.run(
        [*_UNSHARE, "sh", "-c", _SETUP, "sh", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot make mount and network namespaces: {probe.stderr.strip()[:200]}"
    return None


def isolated(argv: list[str]) -> list[str]:
    """``argv`` wrapped to run with its own /run/pcscd and loopback network."""
    return [*_UNSHARE, "sh", "-c", _SETUP, "sh", *argv]


def isolated_env(runtime: Path) -> dict[str, str]:
    """The environment for an isolated command: its own runtime (lock) folder."""
    runtime.mkdir(mode=0o700, exist_ok=True)
    return dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")
