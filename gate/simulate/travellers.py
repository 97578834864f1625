"""The simulated travellers themselves: for each one of a scenario, the passport issued by the
run's test PKI (a virtual card and its printed MRZ) and the scene the camera shows.

A traveller's kind decides both: an expired or revoked passport, a tampered or cloned chip,
a TD1 ID card opened with PACE only; a print or screen attack, or no face at all, in front
of the camera. ``gate.simulate.runner`` puts each one through the lane.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.clock import Clock
from gate.errors import GateError
from gate.simulate.scenario import TravellerSpec
from gate.types import Box, ImageBGR

if TYPE_CHECKING:
    from drivers.camera.conditions import Conditions
    from gate.icao.mrz import Mrz
    from gate.page import Degradation
    from gate.simulate.faces import PhotoLibrary
    from gate.simulate.pki import TestPki

# What the camera shows for each traveller kind (drivers.camera.synthetic scene kinds).
SCENE_OF_KIND = {
    "genuine": "genuine",
    "impostor": "genuine",
    "expired": "genuine",
    "tampered": "genuine",
    "print_attack": "print",
    "screen_attack": "screen",
    "no_face": "no_face",
    "tailgater": "genuine",
    "clone": "genuine",
    "id_card": "genuine",
    "revoked": "genuine",
    "wanted": "genuine",
    "stolen_document": "genuine",
    "substituted_photo": "genuine",  # the one whose portrait is on the page
    "mrz_mismatch": "genuine",
}
# The name printed on an ``mrz_mismatch`` traveller's page instead of DG1's.
ALTERED_SURNAME = "ALTERED"


@dataclass(frozen=True)
class Issued:
    """A traveller's passport: the virtual card, and the data page as the reader sees it
    (its MRZ text; its image and the printed portrait's box on it, when there is one)."""

    card: Any = field(repr=False)
    printed_mrz: str = field(repr=False)
    page: ImageBGR | None = field(default=None, repr=False)
    portrait_box: Box | None = None


class Travellers:
    """Makes the travellers of one run: passports under ``workdir``, signed by ``pki`` (or by
    its revoked Document Signer), portraits from ``photos``, scenes seeded by ``seed``.

    Made before the lane loads its trust store: the revoked signer's CRL lies beside the
    CSCA by then."""

    def __init__(
        self,
        photos: PhotoLibrary,
        pki: TestPki,
        workdir: Path,
        clock: Clock,
        *,
        seed: int,
        frames: int,
        conditions: Conditions | None = None,
        ocr_pages: bool = False,
    ) -> None:
        self.photos = photos
        self.conditions = conditions
        self.pki = pki
        self.revoked_pki = revoked_signer(pki)
        self.workdir = workdir
        self.clock = clock
        self.seed = seed
        self.frames = frames
        # True: each data page is handed to the lane as an image, its MRZ read by OCR (a
        # camera over the page). False: the MRZ as text (a scanner with its own software),
        # and the page's image only where the fraud is in it (a substituted portrait).
        self.ocr_pages = ocr_pages

    def issue(self, index: int, spec: TravellerSpec) -> Issued:
        """Issue the traveller's passport: the virtual card and its data page (the page's
        MRZ names someone else than DG1 for an ``mrz_mismatch`` traveller, its portrait is
        the one in the lane for a ``substituted_photo`` one)."""
        import cv2

        from drivers.chip.passport_folder import load_passport_folder
        from gate.simulate.issue import issue_passport

        portrait = self.photos.chip_photo(spec.photo)
        ok, jpeg = cv2.imencode(".jpg", portrait, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise GateError(f"traveller {spec.label}: cannot encode the passport photo")
        today = dt.datetime.fromtimestamp(self.clock.wall(), dt.timezone.utc).date()
        expiry = (
            today - dt.timedelta(days=40)
            if spec.kind == "expired"
            else today.replace(year=today.year + 5, day=min(today.day, 28))
        )
        folder = self.workdir / "passports" / f"{index:03d}"
        # A TD1 ID card opens with PACE only; a clone's chip proves itself with CA alone (as
        # most EU passports, which lack AA); a revoked one is signed by the revoked DS.
        document: dict[str, Any] = {
            "id_card": {"document": "td1", "access": "pace-only", "can": f"{index:06d}",
                        "aa": "none"},
            "clone": {"access": "bac+pace", "aa": "none"},
        }.get(spec.kind, {})  # fmt: skip
        if spec.kind == "expired":  # issued five years before it expired, not issued expired
            issued_on = expiry - dt.timedelta(days=5 * 365)
            document["signing_time"] = dt.datetime.combine(issued_on, dt.time(12), dt.UTC)
        issued = issue_passport(
            folder,
            pki=self.revoked_pki if spec.kind == "revoked" else self.pki,
            photo=bytes(jpeg),
            surname=f"TRAVELLER{chr(65 + index % 26)}",
            given_names=spec.kind.replace("_", " ").upper(),
            nationality=spec.nationality,
            issuing_state="UTO",  # the simulator's test country (its CSCA)
            birth_date="850101",
            sex="F" if index % 2 else "M",
            expiry_date=expiry.strftime("%y%m%d"),
            document_number=f"S{index:08d}",  # gate.simulate.watchlists lists some
            **document,
        )
        faults: dict[str, Any] = {"corrupt_dg": 2} if spec.kind == "tampered" else {}
        if spec.kind == "clone":
            faults["clone"] = True
        card = load_passport_folder(folder, **faults)
        printed = altered_name(issued.mrz) if spec.kind == "mrz_mismatch" else issued.mrz
        on_page = portrait
        if spec.kind == "substituted_photo" and spec.live_photo is not None:
            on_page = self.photos.chip_photo(spec.live_photo)  # the one in the lane
        elif not self.ocr_pages:
            return Issued(card, printed.text)
        page = self.page(index, printed, on_page)
        return Issued(card, "" if self.ocr_pages else printed.text, page)

    def page(self, index: int, mrz: Mrz, portrait: ImageBGR) -> ImageBGR:
        """The data page printed with ``mrz`` and ``portrait``, as the page reader sees it
        (laid a little askew, slightly soft, JPEG): the lane reads its MRZ by OCR and finds
        the portrait on it, as on a real reader."""
        import numpy as np

        from gate.page import degrade, render_page

        seed = self.seed * 1000 + index
        rendered = render_page(mrz, portrait, background_seed=seed)
        rng = np.random.default_rng(seed)
        return degrade(rendered.image, rng, reader_view(rng))

    def scene_frames(self, index: int, spec: TravellerSpec) -> Sequence[Any]:
        """What the camera shows while the traveller stands in the lane (under the
        scenario's capture conditions, if it names them). A rendered scene's pictures are
        drawn as the camera comes to them (the first one now: a scene that cannot be drawn
        fails here, for this traveller)."""
        if spec.approach is not None:  # a captured approach the user brought
            from gate.simulate.approaches import load_approach

            return load_approach(Path(spec.approach))
        from gate.simulate.live_scene import traveller_scene

        live = spec.live_photo or spec.photo  # the holder in another photo, or an impostor
        if spec.still:
            return self.still_frames(index, spec)
        scene = traveller_scene(
            self.photos,
            live,
            SCENE_OF_KIND[spec.kind],
            seed=self.seed * 1000 + index,
            frames=self.frames,
            conditions=self.conditions,
        )
        from gate.simulate.lane import RenderedOnDemand

        frames = RenderedOnDemand(scene.images(), scene.frames)
        frames[0]  # the first picture now: a scene that cannot be drawn fails here
        return frames

    def still_frames(self, index: int, spec: TravellerSpec) -> list[Any]:
        """A traveller who holds perfectly still at the camera, as a kiosk asks: one
        picture of them at the end of the approach, with fresh sensor noise in each frame
        (what a camera sees of a still person; a picture shows the same)."""
        import numpy as np

        frames = self.answer_frames(index, spec, None)
        rng = np.random.default_rng(self.seed * 1000 + index)
        last = frames[-1].astype(np.int16)
        return [
            np.clip(last + rng.normal(0.0, 2.0, last.shape).astype(np.int16), 0, 255).astype(
                np.uint8
            )
            for _ in range(self.frames)
        ]

    def answer_frames(self, index: int, spec: TravellerSpec, action: str | None) -> list[Any]:
        """What the camera shows while the traveller answers the gate's challenge: the
        same person (or picture), standing still at the camera, doing ``action``
        (``drivers.camera.scene.gesture_yaw``: a head turn; a picture held up turns too;
        ``None``: nothing)."""
        from dataclasses import replace

        from gate.simulate.live_scene import traveller_scene

        live = spec.live_photo or spec.photo
        scene = replace(
            # The scene's own camera (no scenario conditions): the traveller is already at
            # the camera as the approach ended, holding still but for the action asked.
            traveller_scene(
                self.photos,
                live,
                SCENE_OF_KIND[spec.kind],
                seed=self.seed * 1000 + index,
                frames=self.frames,
                conditions=None,
            ),
            eye_distance_start=80.0,
            yaw_amplitude_deg=2.0,
            gesture=action,
        )
        return list(scene.images())


def reader_view(rng: Any) -> Degradation:
    """How a page reader sees a page laid on it: a few degrees askew, barely in
    perspective, a little soft, JPEG-coded (a document camera's still)."""
    from gate.page import Degradation

    return Degradation(
        rotation=float(rng.normal(0.0, 2.0)),
        perspective=float(rng.uniform(0.0, 0.02)),
        scale=float(rng.uniform(0.9, 1.0)),
        blur=float(rng.uniform(0.0, 0.6)),
        noise=float(rng.uniform(0.0, 2.0)),
        jpeg_quality=int(rng.integers(80, 92)),
    )


def altered_name(mrz: Mrz) -> Mrz:
    """``mrz`` with another surname: a page whose MRZ differs from DG1 in a field that does
    not enter the BAC/PACE key (the chip still opens with the page's MRZ)."""
    from gate.icao.mrz_format import FORMATS

    kind = mrz.kind.lower()
    return FORMATS[kind](
        surname=ALTERED_SURNAME,
        given_names=mrz.given_names,
        document_number=mrz.document_number,
        issuing_state=mrz.issuing_state,
        nationality=mrz.nationality,
        birth_date=mrz.birth_date,
        sex=mrz.sex,
        expiry_date=mrz.expiry_date,
        optional_data=mrz.optional_data,
        document_type=mrz.document_type,
    )


def revoked_signer(pki: TestPki) -> TestPki:
    """A second Document Signer of the run's CSCA, revoked in the CSCA's CRL (``csca.crl``
    beside the CSCA in the trust folder); passports it signs are referred."""
    from gate.simulate.crl import revoke_document_signer
    from gate.simulate.pki import make_document_signer, new_key

    key = new_key("ecdsa")
    certificate = make_document_signer(
        pki.csca_certificate,
        pki.csca_key,
        key,
        not_before=pki.ds_certificate.not_valid_before_utc,
        not_after=pki.ds_certificate.not_valid_after_utc,
        common_name="Document Signer (revoked)",
    )
    revoke_document_signer(pki, certificate)
    return replace(pki, ds_certificate=certificate, ds_key=key)
