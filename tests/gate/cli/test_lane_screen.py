"""``--screen`` on ``egate run``, ``simulate`` and ``demo``: the option, its refusals, and the
screen served beside a lane for the block of ``lane_screen``."""

from __future__ import annotations

import urllib.request

import pytest

from gate.cli import build_parser, main
from gate.cli.lane_screen import lane_screen
from gate.errors import ConfigError
from gate.fakes import FakeLane
from gate.screen import Screen


def test_the_option_on_each_lane_command() -> None:
    parser = build_parser()
    for argv in (["run", "--config", "k.toml"], ["simulate"], ["demo"]):
        assert parser.parse_args(argv).screen is None
        assert parser.parse_args([*argv, "--screen"]).screen == "127.0.0.1:8090"
        assert parser.parse_args([*argv, "--screen", "[::1]:9000"]).screen == "[::1]:9000"


def test_a_screen_watches_one_lane(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--screen", "--lanes", "2"]) == 2
    assert "--screen watch(es) one lane" in capsys.readouterr().err
    assert main(["simulate", "--screen", "--replay", "nowhere"]) == 2
    assert "--screen" in capsys.readouterr().err


def test_a_bad_address_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"), lane_screen("nowhere"):
        pass


def test_the_screen_is_served_for_the_block(capsys: pytest.CaptureFixture[str]) -> None:
    with lane_screen(None) as none:
        assert none.observers == ()
    with lane_screen("127.0.0.1:0") as shown:
        assert isinstance(shown.screen, Screen) and shown.observers == (shown.screen,)
        url = capsys.readouterr().err.strip().removeprefix("traveller's screen: ")
        fakes = FakeLane()
        lane = fakes.build(observers=shown.observers)
        shown.attach(lane)
        lane.start()
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"Place your passport on the reader" in page.read()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)
