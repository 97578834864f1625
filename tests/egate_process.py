"""``python -m gate ARGV`` as a child process of a test: the command as a user starts it."""

from __future__ import annotations

import subprocess
import sys
from typing import IO, Any

from tests.conftest import PROJECT_ROOT

Stream = int | IO[Any] | None


def start_egate(
    *argv: str, stdin: Stream = None, stderr: Stream = subprocess.PIPE
) -> subprocess.Popen[str]:
    """Started in the project folder; its stdout (and by default its stderr) piped as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "gate", *argv],
        cwd=PROJECT_ROOT,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
