"""``egate watchlist add-faces FOLDER``: every picture of a folder enrolled through Ray.

Each image file directly in FOLDER (by its suffix) becomes one person entry whose reference
is the file's stem. The driver reads each file (a regular file only, never a FIFO) and ships
its bytes to a pool of Ray actors, each of which loads the store's pack once and embeds one
picture per call (``policy="single"``, as ``add-face``). The driver keeps two pictures in
flight per actor, so a large folder is never held in memory whole, and a cluster's nodes need
egate and the pack but not the folder. The templates come back to the driver, which writes
them as ONE new store version (sealed, like every version) once every picture is done.

A picture that cannot be enrolled (unreadable, corrupt, no face or several, a file name that
is not UTF-8, a reference already on the list) is named on one stderr line and skipped.
Nothing is enrolled when the store, its key or the list is wrong: those are checked before
Ray starts. Pictures and templates travel in Ray's object store (memory), never to a file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.errors import FaceError, GateError, ImageError, InputError

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".j2k", ".ppm", ".pgm"}
)
IN_FLIGHT = 2  # pictures queued per actor
RAY_MISSING = "watchlist add-faces needs Ray: pip install 'egate[ray]'"


@dataclass(frozen=True)
class Picture:
    """One candidate file: its path, its entry's reference and its name as printed."""

    path: Path
    ref: str
    shown: str


@dataclass(frozen=True)
class Scan:
    pictures: tuple[Picture, ...]
    skipped: tuple[str, ...]  # one line each
    ignored: int  # entries that are not picture files (other suffixes, folders)


@dataclass(frozen=True)
class Enrolled:
    version: int
    enrolled: int
    skipped: int
    ignored: int


def shown(name: str) -> str:
    """A file name as one printable line: bytes that are not UTF-8 and control characters
    escaped (``\\xff``, ``\\n``)."""
    raw = os.fsencode(name)
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def scan_folder(folder: Path) -> Scan:
    """The picture files of ``folder`` (not its sub-folders) in name order; a name that
    cannot be a reference (not UTF-8, a control character, another file's) is skipped with
    its line. A folder with no picture file at all is refused."""
    try:
        names = sorted(os.listdir(folder), key=os.fsencode)
    except OSError as exc:
        raise InputError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    pictures: list[Picture] = []
    skipped: list[str] = []
    ignored = 0
    owners: dict[str, str] = {}
    for name in names:
        path = folder / name
        if Path(name).suffix.lower() not in IMAGE_SUFFIXES or path.is_dir():
            ignored += 1
            continue
        label, display = Path(name).stem, shown(name)
        try:
            label.encode("utf-8")
        except UnicodeEncodeError:
            skipped.append(f"{display}: the file name is not UTF-8")
            continue
        if not label.isprintable() or not label.strip():
            skipped.append(f"{display}: the file name is no usable reference")
        elif label in owners:
            skipped.append(f"{display}: {label!r} is {owners[label]}'s reference too")
        else:
            owners[label] = display
            pictures.append(Picture(path, label, display))
    if not pictures and not skipped:
        raise InputError(f"{shown(str(folder))}: no picture file to enrol; nothing changed")
    return Scan(tuple(pictures), tuple(skipped), ignored)


class FaceEmbedder:
    """A Ray actor: loads the pack once, then embeds one picture per call."""

    def __init__(self, pack: str) -> None:
        from models.engine import load_engine

        self.engine = load_engine(pack, threads=1)

    def embed(self, number: int, shown: str, data: bytes) -> tuple[int, Any, str]:
        """``(number, template or None, why not)`` for the picture's bytes."""
        from gate.images import decode_image

        try:
            image = decode_image(data, shown)
            face = self.engine.embed_one(image, policy="single")
        except ImageError as exc:
            return number, None, str(exc)
        except FaceError as exc:
            return number, None, f"{shown}: {exc}"
        return number, np.asarray(face.embedding, dtype=np.float32), ""


def _read(picture: Picture) -> bytes:
    from gate.files import read_regular_file
    from gate.images import FILE_LIMITS

    try:
        return read_regular_file(
            picture.path, "image", max_bytes=FILE_LIMITS.max_bytes, error=ImageError
        )
    except ImageError as exc:  # the message names the path; print the escaped name instead
        raise ImageError(str(exc).replace(str(picture.path), picture.shown, 1)) from exc


class Outcomes:
    """The outcome of every picture, in the order they finish: ``(index, template or None,
    why not)``. Sized, so the progress bar knows the total. The driver reads a picture only
    when an actor is free for it, so at most ``IN_FLIGHT`` per actor are in memory."""

    def __init__(self, ray: Any, pack: str, pictures: Sequence[Picture], workers: int) -> None:
        self.ray, self.pack, self.pictures, self.workers = ray, pack, pictures, workers

    def __len__(self) -> int:
        return len(self.pictures)

    def __iter__(self) -> Iterator[tuple[int, npt.NDArray[np.float32] | None, str]]:
        ray = self.ray
        actor = ray.remote(num_cpus=1)(FaceEmbedder)
        # No more actors than the cluster has CPUs: an actor Ray cannot place waits, and
        # one killed while it waits fails as "cancelled" (seen on a loaded 2-CPU machine).
        cpus = int(ray.cluster_resources().get("CPU", 0)) or 1
        pool = [actor.remote(self.pack) for _ in range(max(1, min(self.workers, cpus, len(self))))]
        queue = iter(enumerate(self.pictures))
        running: dict[Any, Any] = {}
        unread: list[tuple[int, None, str]] = []

        def feed(worker: Any) -> None:
            for number, picture in queue:
                try:
                    data = _read(picture)
                except ImageError as exc:
                    unread.append((number, None, str(exc)))
                    continue
                running[worker.embed.remote(number, picture.shown, data)] = worker
                return

        # An actor gets pictures once it is up, so one that a small cluster cannot place
        # yet holds none back; one whose pack fails to load fails the run (one line).
        starting = {worker.__ray_ready__.remote(): worker for worker in pool}
        left = len(self)
        try:
            while left:
                yield from unread
                left -= len(unread)
                unread.clear()
                if not left:
                    break
                ref = ray.wait([*starting, *running], num_returns=1)[0][0]
                if ref in starting:
                    worker = starting.pop(ref)
                    try:
                        ray.get(ref)
                    except Exception:
                        # An actor Ray could not start (cancelled on a crowded node, or
                        # its pack failed) is dropped while others serve; the last one's
                        # failure ends the run with its reason.
                        if starting or running:
                            continue
                        raise
                    for _ in range(IN_FLIGHT):
                        feed(worker)
                    continue
                feed(running.pop(ref))
                left -= 1
                yield ray.get(ref)
        finally:
            for worker in pool:
                ray.kill(worker)


def _say(line: str, progress: bool) -> None:
    """One line on stderr; above the progress bar, not through it, while one is drawn."""
    if progress:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            tqdm.write(line, file=sys.stderr)
            return
    print(line, file=sys.stderr)


def enrol_folder(
    store: Any,
    folder: Path,
    scan: Scan,
    list_name: str,
    *,
    workers: int,
    address: str | None,
    progress: bool,
) -> Enrolled:
    """Enrol the pictures of ``folder`` on ``list_name`` as one new version of ``store``."""
    import importlib.util

    from bench import optional
    from bench.ray_engine import ray_errors, ray_session

    store.check_person_list(list_name)
    if importlib.util.find_spec("ray") is None:
        raise GateError(RAY_MISSING)
    skipped: list[str] = []
    templates: dict[int, npt.NDArray[np.float32]] = {}

    def skip(line: str) -> None:
        skipped.append(line)
        _say(f"skipped {line}", progress)

    taken = store.person_refs(list_name)
    early = list(scan.skipped)  # printed once Ray has started (a bad --address: one line)
    pictures = []
    for picture in scan.pictures:
        if picture.ref in taken:
            early.append(f"{picture.shown}: {picture.ref!r} is already on {list_name!r}")
        else:
            pictures.append(picture)
    if not pictures:
        for line in early:
            skip(line)
    else:
        with ray_session(address, workers) as ray, ray_errors(ray, "enrolment"):
            for line in early:
                skip(line)
            outcomes = Outcomes(ray, store.pack, pictures, workers)
            bar = optional.progress(outcomes, desc="enrol (ray)", unit="picture", enabled=progress)
            for number, template, why in bar:
                if template is None:
                    skip(why)
                else:
                    templates[number] = template
    if not templates:
        raise InputError(
            f"{shown(str(folder))}: no face enrolled ({len(skipped)} skipped); nothing changed"
        )
    entries = [(pictures[n].ref, templates[n]) for n in sorted(templates)]
    version = store.add_faces(list_name, entries)
    return Enrolled(version, len(entries), len(skipped), scan.ignored)
