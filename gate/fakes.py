"""In-memory stand-ins for every port of the gate controller, for fast unit tests.

They follow the same contracts as the real pieces (errors from ``gate.errors``, real
``gate.turnstile.TurnstileEvent`` values, the lane's typed ports) and drive a
``SimulatedClock``: waiting for an event that never comes advances the clock instead of
sleeping, so a 15-second passage timeout costs microseconds. ``FakeLane`` assembles a whole
lane and queues travellers of every scenario kind.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from threading import Event

import numpy as np

from gate.clock import Clock, SimulatedClock
from gate.config import TimeoutsConfig
from gate.decision import DecisionPolicy, Verdict
from gate.errors import (
    AuditError,
    DeviceGoneError,
    DeviceTimeoutError,
    FaceError,
    GateError,
    ModelError,
)
from gate.interfaces import Camera, Frame
from gate.lane import Lane, Observer, OfficerAction
from gate.outcome import Decision, Transaction
from gate.transaction import CaptureOutcome, DocumentRead, PresentedDocument
from gate.turnstile import DEFAULT_TIMEOUT, DoorState, EventKind, TurnstileEvent, TurnstileStatus
from gate.types import FloatArray, ImageBGR, PassiveAuthStatus
from gate.watch.checks import WatchChecks

EMBEDDING_SIZE = 16
VALID_EXPIRY = "351231"
PAST_EXPIRY = "200101"


# The traveller kinds ``FakeLane.traveller`` can script (the simulator's scenario kinds).
TRAVELLER_KINDS = frozenset(
    {
        "genuine",
        "impostor",
        "expired",
        "tampered",
        "print_attack",
        "screen_attack",
        "no_face",
        "tailgater",
        "clone",
        "id_card",
        "revoked",
        "wanted",
        "stolen_document",
        "substituted_photo",
        "mrz_mismatch",
    }
)


_FAKE_PA: dict[str, PassiveAuthStatus] = {"tampered": "invalid", "revoked": "revoked"}


def fake_photo(identity: int, face: bool = True, size: int = 8) -> ImageBGR:
    """A flat picture that stands for identity ``identity`` (0..15; blank: no face).

    The identity is the blue level in steps of 16, so it survives JPEG coding when a real
    virtual passport carries the picture.
    """
    image = np.zeros((size, size, 3), dtype=np.uint8)
    if face:
        image[..., 0] = (identity % EMBEDDING_SIZE) * 16
    else:
        image[..., 1] = 255
    return image


def fake_embedding(identity: int) -> FloatArray:
    vector = np.zeros(EMBEDDING_SIZE, dtype=np.float32)
    vector[identity % EMBEDDING_SIZE] = 1.0
    return vector


class FakeCamera:
    """Frames of a flat picture at 25 fps of gate time; can die after N frames."""

    def __init__(self, clock: Clock, die_after: int | None = None) -> None:
        self.clock = clock
        self.die_after = die_after
        self.frames_served = 0
        self.closed = False

    def read(self, timeout: float) -> Frame:
        if self.closed or (self.die_after is not None and self.frames_served >= self.die_after):
            raise DeviceGoneError("fake camera stream closed")
        self.clock.sleep(0.04)
        self.frames_served += 1
        return Frame(np.zeros((8, 8, 3), np.uint8), self.clock.now(), self.frames_served)

    def close(self) -> None:
        self.closed = True


class FakeDocumentSource:
    """A queue of documents laid on the reader."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.queue: deque[PresentedDocument] = deque()
        self.ended = False

    def present(self, document: PresentedDocument) -> None:
        self.queue.append(document)

    def wait_document(self, timeout: float) -> PresentedDocument | None:
        if self.queue:
            return self.queue.popleft()
        self.clock.sleep(timeout)
        return None


class FakeChipReader:
    """Answers each document (by label) with a prepared read or raises a prepared error."""

    def __init__(self, clock: Clock, read_s: float = 0.3) -> None:
        self.clock = clock
        self.read_s = read_s
        self.answers: dict[str, DocumentRead | BaseException] = {}

    def read(self, document: PresentedDocument, wall_time: float) -> DocumentRead:
        self.clock.sleep(self.read_s)
        answer = self.answers.get(document.label)
        if answer is None:
            raise DeviceGoneError(f"no card answers for document {document.label!r}")
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeBiometrics:
    """Identities are one-hot templates; capture outcomes are scripted per traveller.

    ``capture`` really reads frames from the camera, so a dying camera is seen as a dying
    camera, then returns the next scripted outcome.
    """

    def __init__(self, threshold: float = 0.6, capture_s: float = 1.0, frames: int = 5) -> None:
        self._threshold = threshold
        self.capture_s = capture_s
        self.frames = frames
        self.script: deque[CaptureOutcome | BaseException] = deque()
        self.corrupt_model = False

    @property
    def pack_id(self) -> str:
        return "fake-pack"

    def threshold(self, fmr: str) -> float:
        return self._threshold

    def enrol(self, photo: ImageBGR) -> FloatArray:
        if self.corrupt_model:
            raise ModelError("fake model file corrupted")
        centre = photo[photo.shape[0] // 2, photo.shape[1] // 2]
        if int(centre[1]) > 200:
            raise FaceError("no face in the chip photo")
        return fake_embedding(round(int(centre[0]) / 16))

    def capture(
        self, camera: Camera, clock: Clock, deadline_s: float, scanned: Event | None = None
    ) -> CaptureOutcome:
        if scanned is not None:  # a watch: the script's outcome is the scanned traveller's
            scanned.wait()
        outcome = self.script.popleft() if self.script else CaptureOutcome("fta")
        try:
            for _ in range(self.frames):
                camera.read(timeout=1.0)
        except (DeviceGoneError, DeviceTimeoutError) as exc:
            return CaptureOutcome("camera_failed", detail=str(exc))
        if isinstance(outcome, BaseException):
            raise outcome
        clock.sleep(min(self.capture_s, deadline_s) if outcome.status == "ok" else deadline_s)
        return outcome

    def distance(self, reference: FloatArray, probes: Sequence[FloatArray]) -> float:
        probe = np.mean(np.stack(list(probes)), axis=0)
        return float(np.linalg.norm(reference - probe))


class FakeTurnstile:
    """Doors and beams in memory. ``next_passage`` says what happens when the exit opens."""

    def __init__(self, clock: Clock, door_s: float = 0.5, walk_s: float = 2.0) -> None:
        self.clock = clock
        self.door_s = door_s
        self.walk_s = walk_s
        self.commands: list[str] = []
        self.passages: deque[str] = deque()  # "pass" | "tailgate" | "stay" | "jam"
        self.events: deque[tuple[float, EventKind]] = deque()
        self.unplugged = False
        self.fail_on: set[str] = set()  # command names that raise DeviceGoneError
        self.locked = True

    def _command(self, name: str) -> None:
        if self.unplugged or name in self.fail_on:
            raise DeviceGoneError(f"fake turnstile unplugged during {name}")
        self.commands.append(name)

    def _at(self, delay: float, kind: EventKind) -> None:
        self.events.append((self.clock.now() + delay, kind))

    def open_entry(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """A referred traveller walks back out through the entry."""
        self._command("open_entry")
        self.locked = False
        self._at(self.door_s, EventKind.DOOR_OPENED)
        self._at(self.door_s + self.walk_s, EventKind.PASSAGE_COMPLETED)

    def open_exit(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._command("open_exit")
        self.locked = False
        behaviour = self.passages.popleft() if self.passages else "pass"
        if behaviour == "jam":
            self._at(self.door_s, EventKind.DOOR_JAMMED)
            return
        self._at(self.door_s, EventKind.DOOR_OPENED)
        if behaviour in ("pass", "tailgate"):
            self._at(self.door_s + self.walk_s, EventKind.PASSAGE_COMPLETED)
        if behaviour == "tailgate":
            self._at(self.door_s + self.walk_s + 0.1, EventKind.TAILGATING)

    def lock(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._command("lock")
        if not self.locked:
            self._at(self.door_s, EventKind.DOOR_CLOSED)
        self.locked = True

    def status(self, timeout: float = DEFAULT_TIMEOUT) -> TurnstileStatus:
        door = DoorState.CLOSED if self.locked else DoorState.OPEN
        return TurnstileStatus(door, door, connected=not self.unplugged)

    def next_event(self, timeout: float) -> TurnstileEvent | None:
        if self.unplugged:
            raise DeviceGoneError("fake turnstile unplugged")
        if self.events:
            due, kind = self.events[0]
            wait = due - self.clock.now()
            if wait <= timeout:
                self.events.popleft()
                self.clock.sleep(wait)
                return TurnstileEvent(kind, self.clock.now())
        self.clock.sleep(timeout)
        return None

    def close(self) -> None:
        self.commands.append("close")


class FakeAudit:
    """Keeps decisions and transactions in lists; ``fail_next`` results and
    ``fail_next_decisions`` decisions fail with AuditError (a full disk)."""

    def __init__(self) -> None:
        self.decisions: list[Transaction] = []
        self.records: list[Transaction] = []
        self.officer_actions: list[OfficerAction] = []
        self.fail_next = 0
        self.fail_next_decisions = 0

    def record_decision(self, transaction: Transaction) -> None:
        if self.fail_next_decisions > 0:
            self.fail_next_decisions -= 1
            raise AuditError("database or disk is full")
        self.decisions.append(transaction)

    def commit(self, transaction: Transaction) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise AuditError("database or disk is full")
        self.records.append(transaction)

    def record_officer(self, action: OfficerAction, at: float) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise AuditError("database or disk is full")
        self.officer_actions.append(action)


class FakeWatchChecks(WatchChecks):
    """Watchlists that list the fake ``wanted`` and ``stolen_document`` travellers (by the
    kind their fake MRZ carries)."""

    def __init__(self) -> None:
        super().__init__(None)

    def check(self, dg1_mrz: str, templates: Sequence[object], today: object) -> Verdict | None:
        for kind, hit in (("<<WANTED", "person list fake-wanted"),
                          ("<<STOLEN_DOCUMENT", "document list fake-stolen")):  # fmt: skip
            if kind in dg1_mrz:
                return Verdict(Decision.REFER_WATCHLIST, f"watchlist: {hit} (version 1)")
        return None


@dataclass
class FakeLane:
    """A whole lane of fakes on one simulated clock."""

    clock: SimulatedClock = field(default_factory=SimulatedClock)
    count: int = 0

    def __post_init__(self) -> None:
        self.documents = FakeDocumentSource(self.clock)
        self.chip = FakeChipReader(self.clock)
        self.biometrics = FakeBiometrics()
        self.camera = FakeCamera(self.clock)
        self.turnstile = FakeTurnstile(self.clock)
        self.audit = FakeAudit()

    def build(
        self,
        observers: tuple[Observer, ...] = (),
        policy: DecisionPolicy | None = None,
        timeouts: TimeoutsConfig | None = None,
    ) -> Lane:
        lane = Lane(
            documents=self.documents,
            chip_reader=self.chip,
            biometrics=self.biometrics,
            camera=self.camera,
            turnstile=self.turnstile,
            clock=self.clock,
            audit=self.audit,
            policy=policy,
            timeouts=timeouts,
            observers=observers,
        )
        lane.checks.use(FakeWatchChecks())
        return lane

    def traveller(self, kind: str, identity: int | None = None) -> PresentedDocument:
        """Queue a traveller of a scenario kind; returns the document it presents."""
        if kind not in TRAVELLER_KINDS:
            raise GateError(f"unknown traveller kind {kind!r}")
        self.count += 1
        identity = self.count if identity is None else identity
        label = f"{kind}-{self.count}"
        mrz = f"P<UTOFAKE<<{label.upper():<33}"[:44] + "\n" + f"{self.count:09d}" + "<" * 35
        document = PresentedDocument(printed_mrz=mrz, label=label)
        if kind == "mrz_mismatch":  # the page names another holder than DG1
            document = PresentedDocument(mrz.replace("FAKE", "FAKO", 1), label=label)
        elif kind == "substituted_photo":  # the page shows the one in the lane, not DG2's
            document = PresentedDocument(mrz, label=label, page=fake_photo(identity + 1))
        self.chip.answers[label] = DocumentRead(
            document_number=f"{self.count:09d}",
            expiry_date=PAST_EXPIRY if kind == "expired" else VALID_EXPIRY,
            dg1_mrz=mrz,
            photo=fake_photo(identity),
            passive_auth=_FAKE_PA.get(kind, "valid"),
            active_auth="not_supported" if kind in ("clone", "id_card") else "valid",
            chip_auth="invalid" if kind == "clone" else "valid",
            access="PACE" if kind == "id_card" else "BAC",
        )
        live = identity if kind not in ("impostor", "substituted_photo") else identity + 1
        if kind == "no_face":
            self.biometrics.script.append(CaptureOutcome("fta"))
        elif kind in (
            "genuine",
            "impostor",
            "tailgater",
            "print_attack",
            "screen_attack",
            "id_card",
            "wanted",
            "stolen_document",
            "substituted_photo",
            "mrz_mismatch",
        ):
            liveness = 0.1 if kind.endswith("attack") else 0.9
            self.biometrics.script.append(
                CaptureOutcome("ok", (fake_embedding(live),), liveness=liveness, quality=0.8)
            )
        if kind in ("genuine", "tailgater", "id_card"):
            self.turnstile.passages.append("tailgate" if kind == "tailgater" else "pass")
        self.documents.present(document)
        return document
