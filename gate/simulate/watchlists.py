"""The simulation's watch store: the lists its ``wanted`` and ``stolen_document`` travellers
are on, made as an authority would (a signed file imported into a store with its own key)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gate.simulate.scenario import Scenario
from gate.types import FloatArray, ImageBGR
from gate.watch.checks import WatchChecks

WATCH_KINDS = ("wanted", "stolen_document")
ISSUING_STATE = "UTO"  # gate.simulate.travellers issues every passport there


def document_number(index: int) -> str:
    """The passport number ``gate.simulate.travellers`` gives the traveller at ``index``."""
    return f"S{index:08d}"


def scenario_watchlist(
    scenario: Scenario,
    folder: Path,
    enrol: Callable[[ImageBGR], FloatArray],
    portrait: Callable[[str], ImageBGR],
    pack_of_lane: Callable[[], str],
) -> WatchChecks | None:
    """A store in ``folder`` listing the scenario's wanted people (their passport photo,
    enrolled with the gate's pack) and stolen documents; ``None`` when there are none.
    The lane's pack is asked only then: a scenario without them starts even while the
    face models are unusable (the lane refers its travellers)."""
    listed = [(i, s) for i, s in enumerate(scenario.travellers) if s.kind in WATCH_KINDS]
    if not listed:
        return None
    pack = pack_of_lane()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gate.watch.bundle import parse_bundle, sign_bundle, template_text, verify_bundle
    from gate.watch.keys import WatchKey
    from gate.watch.store import WatchStore
    from models.pack import load_manifest

    size = load_manifest(pack).embedding_size
    issuer = Ed25519PrivateKey.generate()
    public = issuer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    store = WatchStore.init(
        folder, WatchKey.from_bytes(secrets.token_bytes(32)), public, pack, size
    )
    content: dict[str, Any] = {
        "version": 1,
        "pack": pack,
        "embedding_size": size,
        "lists": {"simulated-wanted": "person", "simulated-stolen": "document"},
        "documents": [
            {"list": "simulated-stolen", "ref": f"doc-{i}", "state": ISSUING_STATE,
             "number": document_number(i)}
            for i, s in listed if s.kind == "stolen_document"
        ],
        "persons": [
            {"list": "simulated-wanted", "ref": f"person-{i}",
             "template": template_text(enrol(portrait(s.photo)))}
            for i, s in listed if s.kind == "wanted"
        ],
    }  # fmt: skip
    data = verify_bundle(sign_bundle(content, issuer), store.signer_key())
    store.import_bundle(parse_bundle(data, store.meta()["signer"], pack, size))
    return WatchChecks(store)
