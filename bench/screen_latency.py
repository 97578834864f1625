"""The traveller's screen: lane state -> screen update, measured in the browser (issue 24).

A lane of fakes on a scaled clock serves genuine travellers and impostors back to back; the
screen (``gate.screen``) is served on loopback and shown by headless Chromium (Debian's
chromium + chromedriver, through Selenium). The page measures, for every view the lane's
events change, the time from the lane's event (the screen stamps it as it hears it) to the
browser's next frame after the view is in place (``static/screen.js``); both run on this
machine, on one clock. Reported: count, p50, p95, max; the exit code says whether p95 is
within the target (150 ms).

    python -m bench.screen_latency [--travellers 40] [--speed 8] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TARGET_P95_MS = 150.0


@dataclass(frozen=True)
class LatencyReport:
    updates: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    travellers: int
    speed: float

    @property
    def within_target(self) -> bool:
        return self.p95_ms <= TARGET_P95_MS


def summarise(seconds: list[float], travellers: int, speed: float) -> LatencyReport:
    if len(seconds) < 2:
        raise ValueError("fewer than two screen updates were measured")
    ms = sorted(s * 1000 for s in seconds)
    return LatencyReport(
        len(ms),
        statistics.median(ms),
        statistics.quantiles(ms, n=20, method="inclusive")[-1],
        ms[-1],
        travellers,
        speed,
    )


def _chromium(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,720", f"--user-data-dir={profile}", "--no-first-run",
                 "--disable-extensions"):  # fmt: skip
        options.add_argument(flag)
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(options=options, service=Service(driver))


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def measure(travellers: int = 40, speed: float = 8.0) -> LatencyReport:
    from gate.clock import ScaledClock
    from gate.fakes import FakeLane
    from gate.screen import Screen, ScreenServer, attach

    screen = Screen()
    fakes = FakeLane(clock=ScaledClock(speed))  # type: ignore[arg-type]  # any Clock will do
    lane = fakes.build(observers=(screen,))
    attach(screen, lane)
    lane.start()
    for index in range(travellers):
        fakes.traveller("impostor" if index % 4 == 3 else "genuine")
    profile = Path(tempfile.mkdtemp(prefix="egate-screen-bench-"))
    browser = _chromium(profile)
    try:
        with ScreenServer(screen, "127.0.0.1:0") as server:
            browser.get(server.url)
            _wait(lambda: browser.execute_script("return document.body.dataset.live") == "true",
                  30, "the page's events")  # fmt: skip
            stop = threading.Event()
            served = lane.serve(stop, max_transactions=travellers)
            _wait(lambda: browser.execute_script("return document.body.dataset.view") == "idle",
                  30, "the last view")  # fmt: skip
            seconds = [float(s) for s in browser.execute_script("return window.screenLatencies")]
    finally:
        browser.quit()
        screen.close()
        shutil.rmtree(profile, ignore_errors=True)
    return summarise(seconds, served, speed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screen_latency", description=__doc__)
    parser.add_argument("--travellers", type=int, default=40)
    parser.add_argument("--speed", type=float, default=8.0, help="lane clock acceleration")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    report = measure(args.travellers, args.speed)
    print(f"lane state -> screen update: {report.updates} updates over {report.travellers} "
          f"travellers: p50 {report.p50_ms:.0f} ms, p95 {report.p95_ms:.0f} ms, max "
          f"{report.max_ms:.0f} ms (target p95 <= {TARGET_P95_MS:.0f} ms: "
          f"{'met' if report.within_target else 'NOT met'})")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0 if report.within_target else 1


if __name__ == "__main__":
    sys.exit(main())
