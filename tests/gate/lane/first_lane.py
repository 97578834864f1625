"""``docs/first-lane.md`` as a bash script that follows it command by command.

The page's fenced ``sh`` blocks are its commands, in order. An HTML comment just before a
block (invisible on the rendered page) says how a reader's terminal is played:

- ``<!-- first-lane: skip (why) -->``: not run (installation);
- ``<!-- first-lane: background, ready "TEXT" -->``: a terminal of its own: started in the
  background (its output in ``bg-N.log``), and the script waits until TEXT is in it;
- ``<!-- first-lane: wait "TEXT" -->`` (before any block): wait until TEXT shows in the
  output of one of the background terminals;
- ``<!-- first-lane: stop "COMMAND" -->``: stop the terminal running COMMAND (SIGTERM, as
  Ctrl-C or systemd would) and wait for it to end; it must end with exit code 0.

A ``text`` block right after a foreground ``sh`` block is what that command prints: each of
its lines must be in the command's output. ``egate`` is this checkout's ``python -m gate``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!--\s*first-lane:\s*(.*?)\s*-->")
READY_S = 180  # the lane loads its face pack; a loaded machine is slow


@dataclass(frozen=True)
class Step:
    kind: str  # run, background, wait, stop, skip, output
    text: str  # the block's commands or the awaited text
    argument: str = ""  # ready text (background)


def page_steps(page: str) -> list[Step]:
    """The steps of the page, in order."""
    steps: list[Step] = []
    position = 0
    for fence in FENCE.finditer(page):
        between = page[position : fence.start()]
        position = fence.end()
        markers = MARKER.findall(between)
        marker = markers[-1] if markers else ""
        language, body = fence.group(1), fence.group(2)
        if marker.startswith(("wait", "stop")):
            steps.append(Step(marker.split()[0], _quoted(marker)))
        if language == "text":
            follows_run = not between.strip() and steps and steps[-1].kind == "run"
            if follows_run:
                steps.append(Step("output", body))
            continue
        if language != "sh":
            continue
        if marker.startswith("skip"):
            steps.append(Step("skip", body))
        elif marker.startswith("background"):
            steps.append(Step("background", body, _quoted(marker)))
        else:
            steps.append(Step("run", body))
    return steps


def _quoted(marker: str) -> str:
    found = re.search(r'"([^"]*)"', marker)
    if found is None:
        raise ValueError(f"first-lane marker without a quoted text: {marker!r}")
    return found.group(1)


PRELUDE = """set -euo pipefail
egate() { "$EGATE_PYTHON" -m gate "$@"; }
wait_for() {  # wait_for TEXT FILE...: until TEXT is in one of the files
    local deadline=$((SECONDS + READY_S))
    until grep -qF -- "$1" "${@:2}" 2>/dev/null; do
        if ((SECONDS > deadline)); then
            echo "first-lane: no '$1' within $READY_S s" >&2
            tail -n 30 "${@:2}" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
}
"""


def page_script(steps: list[Step]) -> str:
    """The bash script that plays ``steps`` from the folder it starts in (its logs stay
    there: ``fg-N.log`` for a command, ``bg-N.log`` for a terminal)."""
    lines = ['TOP="$PWD"', f"READY_S={READY_S}", PRELUDE]
    background: list[tuple[str, str]] = []  # (its command, the variable with its pid)
    for index, step in enumerate(steps):
        if step.kind == "run":  # braces, no pipe: a cd stays for the next commands
            lines += [
                f'{{\n{step.text}}} > "$TOP/fg-{index}.log" 2>&1',
                f'cat "$TOP/fg-{index}.log"',
            ]
        elif step.kind == "output":
            for expected in filter(None, (line.strip() for line in step.text.splitlines())):
                lines.append(
                    f'grep -qF -- {shlex.quote(expected)} "$TOP/fg-{index - 1}.log" || '
                    f"{{ echo first-lane: output without {shlex.quote(expected)} >&2; exit 1; }}"
                )
        elif step.kind == "background":
            log, pid = f'"$TOP/bg-{len(background)}.log"', f"bg{len(background)}"
            # exec: the pid is the command's own, so that a signal reaches it
            lines += [
                f'(egate() {{ exec "$EGATE_PYTHON" -m gate "$@"; }}\n{step.text}) '
                f"> {log} 2>&1 < /dev/null &",
                f"{pid}=$!",
                f"wait_for {shlex.quote(step.argument)} {log}",
            ]
            background.append((step.text.strip(), pid))
        elif step.kind == "wait":
            lines.append(f'wait_for {shlex.quote(step.text)} "$TOP"/bg-*.log')
        elif step.kind == "stop":  # Ctrl-C in its terminal; systemd would send SIGTERM
            pid = next(p for command, p in background if command.startswith(step.text))
            lines += [f"kill -TERM ${pid}", f"wait ${pid}"]
    return "\n".join([*lines, ""])


def write_script(page: Path, script: Path) -> list[Step]:
    steps = page_steps(page.read_text(encoding="utf-8"))
    script.write_text(page_script(steps), encoding="utf-8")
    return steps
