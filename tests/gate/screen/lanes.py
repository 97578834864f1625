"""A lane of fakes for the screen's tests: travellers whose DG1 carries a nationality, and a
``Stepper`` that holds the lane's thread at each state until the test has looked."""

from __future__ import annotations

import queue
import threading
from dataclasses import replace

from gate.fakes import FakeLane
from gate.icao.mrz import format_td3
from gate.lane import GateEvent
from gate.transaction import PresentedDocument


def traveller(fakes: FakeLane, kind: str, nationality: str = "UTO") -> PresentedDocument:
    """Queue a traveller of ``kind`` whose chip's DG1 names ``nationality``."""
    document = fakes.traveller(kind)
    answer = fakes.chip.answers[document.label]
    assert not isinstance(answer, BaseException)
    mrz = format_td3(
        surname="MARTIN",
        given_names="CLAIRE",
        document_number=f"X{fakes.count:08d}",
        issuing_state="UTO",
        nationality=nationality,
        birth_date="850101",
        sex="F",
        expiry_date=answer.expiry_date,
    )
    text = "\n".join(mrz.lines)
    fakes.chip.answers[document.label] = replace(
        answer, dg1_mrz=text, document_number=mrz.document_number
    )
    assert fakes.documents.queue[-1] is document
    fakes.documents.queue[-1] = document = replace(document, printed_mrz=text)
    return document


class Stepper:
    """An observer placed after the screen: at each lane state it hands the event to the
    test (``next``) and waits until the test lets the lane go on (``go``)."""

    def __init__(self) -> None:
        self.events: queue.Queue[GateEvent] = queue.Queue()
        self._go = threading.Semaphore(0)
        self.holding = True

    def __call__(self, event: GateEvent) -> None:
        if self.holding and event.kind == "state":
            self.events.put(event)
            self._go.acquire()

    def next(self, timeout: float = 30.0) -> GateEvent:
        return self.events.get(timeout=timeout)

    def go(self) -> None:
        self._go.release()
