"""What the lane's camera shows of one simulated traveller.

A live traveller (genuine or impostor) is the photo's own pixels around the face, the whole
head, animated in 3-D (``drivers.camera.head_render``) under the scenario's conditions.
The other scenes (print and screen attacks, no face) show the passport-style portrait, as
an attacker would hold up.
"""

from __future__ import annotations

from drivers.camera.conditions import Conditions
from drivers.camera.synthetic import LIVE_HEAD_KINDS, TravellerScene
from gate.simulate.faces import PhotoLibrary


def traveller_scene(
    photos: PhotoLibrary,
    photo: str,
    kind: str,
    *,
    seed: int,
    frames: int,
    conditions: Conditions | None,
) -> TravellerScene:
    """The scene of ``kind`` (a ``drivers.camera.synthetic`` scene kind) made from
    ``photo`` (a scenario photo name)."""
    if kind in LIVE_HEAD_KINDS:
        image, points = photos.live(photo)
        return TravellerScene(
            photo=image,
            kind=kind,
            seed=seed,
            frames=frames,
            photo_landmarks=tuple((float(x), float(y)) for x, y in points),
            conditions=conditions,
        )
    return TravellerScene(
        photo=photos.portrait(photo),
        kind=kind,
        seed=seed,
        frames=frames,
        conditions=conditions,
    )
