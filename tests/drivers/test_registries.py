"""Every device registry is lazy: importing it imports none of its backends, no emulator and
no optional package (python-can's BACKENDS style). Checked in a fresh interpreter each."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from gate.errors import ModelError
from gate.types import Box, Detection, Landmarks5
from models.manifest import InputSpec, PackManifest, describe_file
from models.runtime import PackRuntime
from tests.conftest import PROJECT_ROOT

# registry module -> modules beyond its BACKENDS that it must not pull in
REGISTRIES = {
    "drivers.turnstile.registry": (
        "drivers.turnstile.link",
        "drivers.turnstile.modbus",
        "drivers.turnstile.emulator",
        "serial",
        "pymodbus",
    ),
    "drivers.camera.registry": ("drivers.camera._render", "drivers.camera.scene", "cv2"),
    "drivers.chip.registry": (
        "drivers.chip.emulator",
        "drivers.chip.passport_folder",
        "smartcard",
    ),
}


@pytest.mark.parametrize("registry", sorted(REGISTRIES))
def test_importing_a_registry_imports_no_backend(registry: str) -> None:
    code = (
        f"import sys, {registry} as r\n"
        "mods = {t.partition(':')[0] for t in r.BACKENDS.values()}\n"
        f"mods |= set({REGISTRIES[registry]!r})\n"
        "print(sorted(m for m in mods if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# -- the face-pack kinds: one table, ``models.kinds.PACK_KINDS`` ---------------------------

PACK_KIND_HEAVY = ("onnxruntime", "onnx", "insightface", "dlib", "cv2")


def test_importing_the_pack_registry_imports_no_kind() -> None:
    code = (
        "import sys, models.engine, models.pack, models.kinds as k\n"
        "mods = {e.module for e in k.PACK_KINDS.values()}\n"
        f"mods |= set({PACK_KIND_HEAVY!r})\n"
        "print(sorted(m for m in mods if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


class _BrightBoxDetector:
    """Finds the bounding box of the bright pixels (one 'face'), with 5 points of its own."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.calls: list[tuple[int, int]] = []

    def detect(self, image: np.ndarray, min_face: int = 0) -> list[Detection]:
        self.calls.append(image.shape[:2])
        ys, xs = np.nonzero(image.max(axis=2) >= self.level)
        if len(xs) == 0 or xs.max() - xs.min() + 1 < min_face:
            return []
        box = Box(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
        points = ((box.left, box.top), (box.right, box.top), (cx, cy), (box.left, box.bottom))
        return [Detection(box, 0.99, (*points, (box.right, box.bottom)))]


class _MeanColour:
    embedding_size = 3

    def embed(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([c.reshape(-1, 3).mean(axis=0) / 255.0 for c in chips], np.float32)


def _toy_kind_module() -> types.ModuleType:
    """A toy pack kind: one 'weights' file (the detector's brightness level), a bright-box
    detector that can track, a mean-colour embedder on 4x4 chips."""
    module = types.ModuleType("toy_pack_kind")

    def converter_versions() -> dict[str, str]:
        return {"toy": "1"}

    def build_into(folder: Path) -> PackManifest:
        (folder / "level.txt").write_text("200")
        return PackManifest(
            id="toy",
            kind="toy",
            files={"detector": describe_file(folder, "level.txt")},
            input=InputSpec(4, "BGR", "x / 255", "box-crop(4)"),
            embedding_size=3,
            distance="euclidean",
            thresholds={"1e-3": 0.1},
            calibration="a toy: not calibrated",
            created_with=converter_versions(),
        )

    def open_runtime(folder: Path, manifest: PackManifest, *, threads: int = 0) -> PackRuntime:
        level = int((folder / manifest.files["detector"].path).read_text())

        def aligner(image: np.ndarray, landmarks: Landmarks5) -> np.ndarray:
            (left, top), (right, _), _, (_, bottom), _ = landmarks.points
            crop = image[int(top) : int(bottom), int(left) : int(right)]
            rows = np.linspace(0, crop.shape[0] - 1, 4).astype(int)
            cols = np.linspace(0, crop.shape[1] - 1, 4).astype(int)
            return np.ascontiguousarray(crop[rows][:, cols])

        return PackRuntime(
            detector=_BrightBoxDetector(level),
            landmarks=None,
            aligner=aligner,
            embedder=_MeanColour(),
            trackable=True,
        )

    def looks_like(folder: Path) -> bool:
        return (folder / "level.txt").is_file()

    def synthesise_manifest(folder: Path) -> PackManifest:
        return PackManifest(
            id=folder.name,
            kind="toy",
            files={"detector": describe_file(folder, "level.txt")},
            input=InputSpec(4, "BGR", "x / 255", "box-crop(4)"),
            embedding_size=3,
            distance="euclidean",
            thresholds={"1e-3": 0.1},
            calibration="synthesised",
        )

    module.converter_versions = converter_versions  # type: ignore[attr-defined]
    module.build_into = build_into  # type: ignore[attr-defined]
    module.open_runtime = open_runtime  # type: ignore[attr-defined]
    module.looks_like = looks_like  # type: ignore[attr-defined]
    module.synthesise_manifest = synthesise_manifest  # type: ignore[attr-defined]
    return module


def _picture(colour: tuple[int, int, int], at: tuple[int, int]) -> np.ndarray:
    image = np.zeros((480, 640, 3), np.uint8)
    image[at[1] : at[1] + 100, at[0] : at[0] + 80] = colour
    return image


def test_a_pack_kind_is_one_entry_in_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gate.capture.pipeline import CapturePipeline
    from gate.capture.quality import LAYOUTS
    from models.engine import load_engine
    from models.kinds import PACK_KINDS, PackKind
    from models.pack import load_manifest, prepare_pack, verify_pack

    monkeypatch.setenv("EGATE_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "toy_pack_kind", _toy_kind_module())
    # The one entry: the kind's module, its landmark convention, and that egate builds it.
    monkeypatch.setitem(
        PACK_KINDS, "toy", PackKind("toy_pack_kind", landmarks="insightface", built=True)
    )

    built = prepare_pack("toy")  # built through the kind's module, manifest written, checked
    assert built.changed and built.folder == tmp_path / "packs" / "toy"
    assert not prepare_pack("toy").changed  # up to date: same converter versions, same hashes
    assert verify_pack("toy").kind == "toy" == load_manifest("toy").kind

    engine = load_engine("toy")
    assert engine.pack_id == "toy" and engine.landmark_layout == "insightface"
    pipeline = CapturePipeline(engine)
    assert pipeline.layout == LAYOUTS["insightface"]  # capture reads the kind's convention
    first = _picture((250, 250, 250), (200, 150))
    faces = engine.analyze(first, min_face=40)
    assert [f.detection.box for f in faces] == [Box(200.0, 150.0, 280.0, 250.0)]
    # It tracks (its entry's runtime says so): the face found in a region around the last.
    moved = _picture((250, 250, 250), (230, 160))
    assert engine.can_track
    followed = engine.track(moved, faces[0], min_face=40)
    assert followed is not None and followed.detection.box == Box(230.0, 160.0, 310.0, 260.0)
    other = _picture((210, 250, 250), (300, 100))
    same = engine.embed_one(first).embedding
    assert same is not None and other is not None
    assert engine.distance(same, engine.embed_one(moved).embedding) < 1e-6
    assert engine.distance(same, engine.embed_one(other).embedding) > 0.1


def test_a_pack_kind_can_recognise_a_bare_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.engine import load_engine
    from models.kinds import PACK_KINDS, PackKind
    from models.pack import load_manifest

    monkeypatch.setitem(sys.modules, "toy_pack_kind", _toy_kind_module())
    folder = tmp_path / "my-toy"
    folder.mkdir()
    (folder / "level.txt").write_text("200")
    with pytest.raises(ModelError, match=r"no manifest.json, and no pack kind \(insightface\)"):
        load_manifest(folder)
    entry = PackKind("toy_pack_kind", landmarks="dlib-cc0", bare_folders=True)
    monkeypatch.setitem(PACK_KINDS, "toy", entry)
    manifest = load_manifest(folder)  # no manifest.json: the kind's module synthesises one
    assert (manifest.kind, manifest.id, manifest.calibration) == ("toy", "my-toy", "synthesised")
    engine = load_engine(folder)
    assert engine.landmark_layout == "dlib-cc0"
    assert len(engine.analyze(_picture((250, 250, 250), (100, 100)), min_face=40)) == 1


def test_a_kind_not_in_the_table_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.manifest import write_manifest
    from models.pack import load_manifest, prepare_pack

    monkeypatch.setenv("EGATE_HOME", str(tmp_path))
    folder = tmp_path / "packs" / "toy"
    folder.mkdir(parents=True)
    module = _toy_kind_module()
    write_manifest(folder, module.build_into(folder))
    with pytest.raises(ModelError, match=r"field 'kind' is 'toy', expected one of dlib-cc0"):
        load_manifest("toy")
    with pytest.raises(ModelError, match="only dlib-cc0, sface, fusion are built locally"):
        prepare_pack("toy")
