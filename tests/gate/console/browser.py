"""Headless Debian Chromium through Selenium and Debian's chromedriver (no browser download),
and what the console's browser tests share: the egate processes they start (a console, its
users and signing key, lanes), the page helpers and the screenshots."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
EGATE = str(Path(sys.executable).with_name("egate"))


def screenshot_folder(tmp_path: Path) -> Path:
    """Where the views are saved: ``$EGATE_SCREENSHOTS`` (``make screenshots`` sets it to
    docs/console), else the test's own temporary folder, so a test run leaves the tracked
    screenshots alone."""
    chosen = os.environ.get("EGATE_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def browser_problem() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            return f"{path} missing (make install adds chromium and chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the dev extra)"
    return None


def start_chromium(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@contextmanager
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium (skips with the reason where it cannot run), quit at the end."""
    problem = browser_problem()
    if problem:
        pytest.skip(problem)
    browser = start_chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield browser
    finally:
        browser.quit()


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll the page (or a process) until ``condition`` gives something true."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # the page is being redrawn: try again
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}: last {last!r}")


def add_user(users: Path, name: str, role: str, password: str, cli: bool = False) -> None:
    """A console account in ``users``: through ``egate console user add`` in a process of
    its own (``cli``, the password on stdin), else with the same code in this process."""
    if cli:
        subprocess.run(
            [EGATE, "console", "user", "add", name, "--role", role, "--users", str(users)],
            input=password + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        return
    from gate.console.users import Users

    Users.load(users).add(name, role, password)


def console_key(path: Path, cli: bool = False) -> Path:
    """The console's signing key at ``path`` (and ``path.pub``, which the lanes trust):
    through ``egate console keygen`` (``cli``), else with the same code in this process."""
    if cli:
        subprocess.run([EGATE, "console", "keygen", str(path)], check=True, capture_output=True)
    else:
        from gate.console.signing import ConsoleKey

        ConsoleKey.generate().save(path)
    return path


def console_args(port: int, broker: str, users: Path, key: Path, state: Path) -> list[str]:
    """``egate console`` on 127.0.0.1:``port`` through ``broker``, signing with ``key``."""
    return ["console", "--listen", f"127.0.0.1:{port}", "--broker", broker,
            "--users", str(users), "--key", str(key), "--state", str(state)]  # fmt: skip


def start_console(args: list[str], log: Path) -> subprocess.Popen[str]:
    """``egate ARGS`` (a console), once it says it is on and its port answers."""
    process = spawn(EGATE, args, log)
    port = int(args[args.index("--listen") + 1].rpartition(":")[2])
    wait_until(lambda: "console on" in log.read_text() or process.poll() is not None, 60)
    assert process.poll() is None, log.read_text()[-2000:]
    wait_until(lambda: port_open(port), 30, "the console's port")
    return process


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def shot(driver: Any, folder: Path, name: str) -> None:
    """The page as shown, saved as ``folder/name.png``."""
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)) and path.read_bytes().startswith(b"\x89PNG")


def texts(driver: Any, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def log_in(driver: Any, base: str, name: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    wait_until(lambda: driver.current_url.endswith("/hall"), 15, "the hall after login")
    wait_until(lambda: driver.find_element(By.ID, "live").text == "live", 15, "live events")


def spawn(
    egate: str, args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``egate ARGS`` in its own process group, its output in ``log``."""
    out = log.open("w")
    return subprocess.Popen(
        [egate, *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    return stop_all([process], sig)[0]


def stop_all(processes: list[subprocess.Popen[str]], sig: int = signal.SIGTERM) -> list[int]:
    """Signal every process first, then wait for each: they shut down side by side (a lane
    takes about 0.75 s to stop; four one after the other took 3 s)."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, sig)
    return [process.wait(30) for process in processes]
