"""The kinds of face pack: one table, ``PACK_KINDS``, and the one place that imports a kind.

A pack's manifest names its kind; everything that depends on the kind comes from the kind's
entry here: which module opens (and, for a kind egate builds itself, builds) it, and which
convention its 5 landmarks follow. As in python-can's ``BACKENDS``, a kind's module is a
string imported only when a pack of that kind is opened, built or recognised, so a
dlib-only install never imports insightface, and importing this table imports no kind.

Adding a kind is one entry in ``PACK_KINDS``; its module provides

* ``open_runtime(folder, manifest, *, threads) -> models.runtime.PackRuntime`` (every kind);
* ``converter_versions() -> dict[str, str]`` and ``build_into(folder) -> PackManifest`` when
  ``built`` (``egate models prepare --pack KIND`` builds the pack whose id is the kind's name);
* ``looks_like(folder) -> bool`` and ``synthesise_manifest(folder) -> PackManifest`` when
  ``bare_folders`` (a folder of the kind's own files, with no ``manifest.json``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from gate.errors import ModelError


@dataclass(frozen=True)
class PackKind:
    module: str  # imported only when a pack of this kind is opened, built or recognised
    landmarks: str  # the 5-point convention (``gate.capture.quality.LAYOUTS``)
    built: bool = False  # egate builds this pack itself (its id is the kind's name)
    bare_folders: bool = False  # recognises a folder of its files without a manifest


PACK_KINDS: dict[str, PackKind] = {
    # dlib's CC0 models converted to ONNX: MMOD detector, 5-point model, ResNet embedder.
    "dlib-cc0": PackKind("models.dlib.pack", landmarks="dlib-cc0", built=True),
    # A buffalo_l-style folder, used through insightface's own classes.
    "insightface": PackKind("models.insightface_pack", "insightface", bare_folders=True),
    # YuNet (its own 5 points, InsightFace's convention) and SFace, from the OpenCV zoo.
    "sface": PackKind("models.sface.pack", landmarks="insightface", built=True),
    # YuNet faces, dlib's 5 points on them, dlib's and SFace's embeddings fused.
    "fusion": PackKind("models.sface.fusion_pack", landmarks="dlib-cc0", built=True),
}


def pack_kind(kind: str, source: str = "pack") -> PackKind:
    """The entry of ``kind``; ``ModelError`` naming ``source`` and the known kinds if none."""
    entry = PACK_KINDS.get(kind)
    if entry is None:
        raise ModelError(
            f"{source}: pack kind {kind!r} is not one of {', '.join(sorted(PACK_KINDS))}"
        )
    return entry


def built_kinds() -> list[str]:
    """The packs egate builds itself (``egate models prepare --pack NAME``)."""
    return [name for name, entry in PACK_KINDS.items() if entry.built]


def kind_module(kind: str, source: str = "pack") -> ModuleType:
    """Import the module of ``kind`` now."""
    module_name = pack_kind(kind, source).module
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(
            f"{source}: the module of pack kind {kind!r} ({module_name}) cannot be imported: {exc}"
        ) from exc
