"""The traveller's screen in headless Chromium (Debian's chromium + chromedriver), driven by a
lane of fakes held at each of its states (``Stepper``): a genuine French traveller, two
referrals for different reasons (the same screen, byte for byte), an out-of-service lane;
and, held in the camera's state, the challenge's view (a turn to the traveller's left).

At each state the view shown is checked, our accessibility check runs on it (contrast, text
size, no flashing: ``styles.check_page``), the visible language choice is used, and the view
is saved in French and in Arabic (right to left): into docs/screen/ with
``EGATE_SCREENSHOTS=docs/screen`` (``make screenshots``), else a temporary folder. The lane
state -> screen latencies measured in the page are printed (bench/screen_latency.py measures
the figure of docs/screen.md).
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from gate.fakes import FakeLane
from gate.lane import GateEvent, Lane
from gate.outcome import State
from gate.screen import Screen, ScreenServer, attach
from tests.gate.console.browser import (
    browser_problem,
    screenshot_folder,
    start_chromium,
    wait_until,
)
from tests.gate.screen.lanes import Stepper, traveller
from tests.gate.screen.styles import check_page

pytestmark = pytest.mark.slow
SHOT_LANGUAGES = ("fr", "ar")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    problem = browser_problem()
    if problem:
        pytest.skip(problem)
    browser = start_chromium(tmp_path_factory.mktemp("chromium"))
    # The page as a 1280x720 display shows it (the window's own bars left out).
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield browser
    finally:
        browser.quit()


def face_frame(box_width: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A camera frame (640x480) with the sample portrait in the middle, ``box_width`` wide."""
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"
    face = cv2.imread(str(path))
    assert face is not None
    height = round(face.shape[0] * box_width / face.shape[1])
    frame = np.full((480, 640, 3), (96, 104, 112), np.uint8)
    left, top = 320 - box_width // 2, 240 - height // 2
    frame[top : top + height, left : left + box_width] = cv2.resize(face, (box_width, height))
    return frame, (left, top, left + box_width, top + height)


class Flow:
    """The page, the lane of fakes and what the test does at each state."""

    def __init__(self, driver: Any, screen: Screen, lane: Lane, shots: Path) -> None:
        self.driver, self.screen, self.lane, self.shots = driver, screen, lane, shots
        self.saved: list[str] = []

    def body(self, key: str) -> str:
        return str(self.driver.execute_script(f"return document.body.dataset.{key} || ''"))

    def expect(self, view: str, lang: str) -> None:
        wait_until(lambda: (self.body("view"), self.body("lang")) == (view, lang), 30,
                   f"the {view} view in {lang}")  # fmt: skip

    def choose(self, lang: str) -> None:
        """Touch the language on the screen."""
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, f"#languages button[data-lang='{lang}']").click()
        wait_until(lambda: self.body("lang") == lang, 30, f"the page in {lang}")

    def look(self, view: str, lang: str, again: Any = None, also: tuple[str, ...] = ()) -> None:
        """The view is shown in ``lang``; check it and save it in both languages; then give
        the traveller their language back. ``again`` redraws what a new view drops."""
        self.expect(view, lang)
        for shown in (*SHOT_LANGUAGES, *also):
            if self.body("lang") != shown:
                self.choose(shown)
            if again is not None:
                again()
            wait_until(lambda: self.driver.execute_script("return document.fonts.status")
                       == "loaded", 30, "the fonts")  # fmt: skip
            _, problems = check_page(self.driver)
            assert not problems, f"{view} in {shown}: {problems}"
            direction = self.driver.execute_script("return document.documentElement.dir")
            assert direction == ("rtl" if shown == "ar" else "ltr")
            path = self.shots / f"{view}-{shown}.png"
            assert self.driver.save_screenshot(str(path))
            self.saved.append(path.name)
        self.choose(lang)

    def text(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.ID, "view").text)


def _camera(flow: Flow, tid: str | None) -> None:
    """Frames of the live mirror: too far first (the hint), then a face that meets the guide."""
    far, far_box = face_frame(60)
    near, near_box = face_frame(200)

    def show(image: np.ndarray, box: Any, quality: float) -> None:
        data = {"image": image, "face_box": box, "quality": quality}
        flow.screen(GateEvent("preview", State.CAPTURE, 0.0, tid, "", data))

    show(far, far_box, 0.9)
    wait_until(lambda: flow.driver.execute_script(
        "return document.getElementById('mirror-box').dataset.ok") == "false"
        and flow.driver.execute_script("return document.getElementById('mirror').src"),
        30, "the mirror")  # fmt: skip
    assert flow.text().count("Approchez-vous.") == 1

    def good() -> None:
        show(near, near_box, 0.9)
        wait_until(lambda: flow.driver.execute_script(
            "return document.getElementById('mirror-box').dataset.ok") == "true", 30,
            "the face guide met")  # fmt: skip

    good()
    assert "Ne bougez plus." in flow.text()
    flow.look("camera", "fr", again=good)

    # The lane asks for a turn to the left: the instruction, its arrow and the mirror.
    flow.screen(GateEvent("challenge", State.CAPTURE, 0.0, tid, "asked", {"action": "turn_left"}))

    def mirrored() -> None:
        show(near, near_box, 0.9)
        wait_until(lambda: flow.driver.execute_script(
            "return document.getElementById('mirror').src"), 30, "the mirror")  # fmt: skip

    flow.look("challenge", "fr", again=mirrored)
    assert "Veuillez tourner légèrement la tête vers votre gauche" in flow.text()
    flow.screen(GateEvent("challenge", State.CAPTURE, 0.0, tid, "passed", {"action": "turn_left"}))
    flow.expect("camera", "fr")


class Walk:
    """One traveller through the lane (in its own thread), held at each state."""

    def __init__(self, fakes: FakeLane, lane: Lane, stepper: Stepper, kind: str, nation: str):
        self.stepper = stepper
        traveller(fakes, kind, nation)
        self.thread = threading.Thread(target=lane.serve_one, args=(1.0,))
        self.thread.start()
        self.held = False

    def until(self, state: State) -> GateEvent:
        """Let the lane go on to ``state`` (and hold it there)."""
        while True:
            if self.held:
                self.stepper.go()
            event = self.stepper.next()
            self.held = True
            if event.state is state:
                return event

    def finish(self) -> None:
        self.stepper.holding = False
        if self.held:
            self.stepper.go()
        self.thread.join(10)
        self.stepper.holding = True


def test_genuine_referrals_and_out_of_service_on_the_screen(driver: Any, tmp_path: Path) -> None:
    screen = Screen()
    fakes = FakeLane()
    stepper = Stepper()
    lane = fakes.build(observers=(screen, stepper))
    attach(screen, lane)
    stepper.holding = False
    lane.start()
    stepper.holding = True
    with ScreenServer(screen, "127.0.0.1:0") as server:
        driver.get(server.url)
        flow = Flow(driver, screen, lane, screenshot_folder(tmp_path))
        flow.look("idle", "en", also=("zh",))

        # A genuine French traveller: French from the moment the chip is read.
        walk = Walk(fakes, lane, stepper, "genuine", "FRA")
        walk.until(State.DOCUMENT)
        flow.look("reading", "en")
        event = walk.until(State.CAPTURE)
        _camera(flow, event.transaction_id)
        walk.until(State.VERIFY)
        flow.look("verifying", "fr")
        walk.until(State.EXIT_OPEN)
        flow.look("proceed", "fr")
        walk.until(State.PASSAGE)
        flow.expect("proceed", "fr")
        walk.finish()
        flow.expect("idle", "en")
        assert fakes.audit.records[-1].decision.value == "ACCEPT"

        # Two referrals for different reasons: the same words, the same markup.
        referred = []
        for kind in ("impostor", "expired"):
            walk = Walk(fakes, lane, stepper, kind, "EGY")
            walk.until(State.REFERRED)
            flow.expect("officer", "ar")
            html = driver.execute_script("return document.getElementById('view').innerHTML")
            referred.append((flow.text(), html))
            if kind == "impostor":
                flow.look("officer", "ar")
            walk.finish()
            flow.expect("idle", "en")
        decisions = [t.decision.value for t in fakes.audit.records[-2:]]
        assert decisions == ["REJECT_MISMATCH", "REFER_DOCUMENT"]
        assert referred[0] == referred[1] and "يرجى مراجعة أحد الموظفين" in referred[0][0]

        # Out of service: a device stops answering, then answers again.
        lane.announce("service", "out of service: camera down since 2026-12-07 06:00:00 UTC")
        flow.look("closed", "en")
        lane.announce("service", "in service")
        flow.expect("idle", "en")

        stored = driver.execute_script(
            "return [document.cookie, localStorage.length, sessionStorage.length]"
        )
        assert stored == ["", 0, 0]
        latencies = [float(x) for x in driver.execute_script("return window.screenLatencies")]
    screen.close()
    views = ("idle", "reading", "camera", "challenge", "verifying", "proceed", "officer", "closed")
    saved = {f"{v}-{lang}.png" for v in views for lang in SHOT_LANGUAGES} | {"idle-zh.png"}
    assert set(flow.saved) == saved
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
    print(f"lane state -> screen: {len(latencies)} updates, p95 {p95:.0f} ms (not asserted)")
