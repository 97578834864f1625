"""Headless Debian Chromium through Selenium and Debian's chromedriver (no browser download)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


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


def add_user(users: Path, name: str, role: str, password: str, egate: str) -> None:
    subprocess.run(
        [egate, "console", "user", "add", name, "--role", role, "--users", str(users)],
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


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
    if process.poll() is None:
        os.killpg(process.pid, sig)
    return process.wait(30)
