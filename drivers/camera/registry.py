"""Camera sources chosen by one address string, looked up in ``BACKENDS``.

An address is ``SCHEME:TARGET`` with a scheme of ``BACKENDS``, or a bare form whose scheme
is inferred:

* ``0``, ``1`` ... or ``/dev/video0``: ``device``, an OpenCV device index or path (live);
* ``http://``, ``https://``, ``rtsp://``, ``rtsps://`` URLs: a network stream, MJPEG over
  HTTP or RTSP through FFmpeg (live, reopened when it drops);
* a path containing ``%`` (``frames/%04d.jpg``): ``sequence``, read by OpenCV (recorded);
* a folder: ``folder``, the images in it in name order (recorded);
* any other existing file: ``file``, a video file (recorded); ``file:clip.mp4?realtime=1``
  plays it at its own pace (the default when opened ``live``, as ``egate run`` does), and
  ``&loop=1`` starts it again at the end;
* ``synthetic:PHOTO?kind=print&seed=3&frames=30&loop=1`` (no bare form): a traveller scene
  rendered from the photo by ``drivers.camera.synthetic`` (recorded).

The explicit forms (``device:0``, ``file:clip.mp4``, ``folder:frames``, ...) say the same
without relying on what the path is. As in python-can, ``BACKENDS`` names each grabber as
a ``"module:Class"`` string imported only when an address asks for it: importing this
module imports neither OpenCV nor the synthetic renderer. ``open_camera`` runs the grabber
behind a ``drivers.camera.threaded.ThreadedCamera``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.backends import resolve
from drivers.camera.threaded import FrameGrabber, ThreadedCamera
from gate.clock import Clock
from gate.errors import ConfigError, DeviceError

BACKENDS: Mapping[str, str] = {
    "device": "drivers.camera.opencv:DeviceGrabber",
    "http": "drivers.camera.opencv:StreamGrabber",
    "https": "drivers.camera.opencv:StreamGrabber",
    "rtsp": "drivers.camera.opencv:StreamGrabber",
    "rtsps": "drivers.camera.opencv:StreamGrabber",
    "file": "drivers.camera.opencv:VideoFileGrabber",
    "sequence": "drivers.camera.opencv:VideoFileGrabber",  # OpenCV reads a pattern as a video
    "folder": "drivers.camera.opencv:DirectoryGrabber",
    "synthetic": "drivers.camera.synthetic:SceneGrabber",
}
# Schemes whose target is the whole URL, ``//`` and all.
URL_SCHEMES = ("http", "https", "rtsp", "rtsps")


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


# ``?key=value&...`` options per scheme, with their parsers; other schemes take none (a "?"
# there is part of the path or URL).
OPTIONS: Mapping[str, Mapping[str, Callable[[str], object]]] = {
    "synthetic": {"kind": str, "seed": int, "frames": int, "loop": _flag},
    "file": {"realtime": _flag, "loop": _flag},
}


@dataclass(frozen=True)
class CameraAddress:
    """A parsed address: the scheme, what its grabber opens, and the typed options."""

    scheme: str
    target: str
    options: Mapping[str, object] = field(default_factory=dict)


def parse_address(address: str) -> CameraAddress:
    """The one place camera addresses are parsed; raises DeviceError naming the address."""
    text = address.strip()
    if not text:
        raise DeviceError("camera address is empty")
    scheme, sep, rest = text.partition(":")
    if sep and scheme in URL_SCHEMES and rest.startswith("//"):
        return CameraAddress(scheme, text)
    if sep and scheme in BACKENDS and scheme not in URL_SCHEMES:
        target, options = _options(text, scheme, rest)
        if not target:
            raise DeviceError(f"camera address {text!r} names nothing after '{scheme}:'")
    else:
        scheme, target, options = _infer(text), text, {}
    _check(text, scheme, target)
    return CameraAddress(scheme, target, options)


def backend(scheme: str) -> Callable[..., FrameGrabber]:
    """The grabber class of ``scheme``, imported now."""
    try:
        grabber: Callable[..., FrameGrabber] = resolve("camera", BACKENDS, scheme)
    except ConfigError as exc:  # a camera address error is a DeviceError, as it always was
        raise DeviceError(str(exc)) from exc
    return grabber


def grabber_for(address: str) -> FrameGrabber:
    """The grabber for ``address``, not opened yet (no capture thread)."""
    parsed = parse_address(address)
    return backend(parsed.scheme)(parsed.target, **parsed.options)


def open_camera(
    address: str,
    *,
    clock: Clock | None = None,
    buffer_size: int = 1,
    live: bool | None = None,
    fps: float | None = None,
    reconnect_timeout_s: float = 5.0,
) -> ThreadedCamera:
    """Open the camera named by ``address`` and start its capture thread.

    ``live`` overrides the queue policy (True: drop the oldest frame when full; False: keep
    every frame); ``fps`` paces a recorded source as if it were a camera (implies live).
    """
    grabber = grabber_for(address)
    if live and getattr(grabber, "realtime", False) is None:
        # a recorded file as the camera of a live lane: at its own pace (``?realtime=0``: not)
        grabber.realtime = True  # type: ignore[attr-defined]
    drop_oldest = live if live is not None else (True if fps else None)
    return ThreadedCamera(
        grabber,
        clock=clock,
        buffer_size=buffer_size,
        drop_oldest=drop_oldest,
        fps=fps,
        reconnect_timeout_s=reconnect_timeout_s,
    )


def _known() -> str:
    return ", ".join(s + ":" for s in BACKENDS)


def _options(address: str, scheme: str, rest: str) -> tuple[str, dict[str, Any]]:
    parsers = OPTIONS.get(scheme)
    if parsers is None:
        return rest, {}
    target, _, query = rest.partition("?")
    options: dict[str, Any] = {}
    for item in filter(None, query.split("&")):
        key, _, text = item.partition("=")
        if key not in parsers:
            raise DeviceError(
                f"camera address {address!r}: unknown option {key!r} (known: {', '.join(parsers)})"
            )
        try:
            options[key] = parsers[key](text)
        except ValueError as exc:
            raise DeviceError(f"camera address {address!r}: bad {key}={text!r}") from exc
    return target, options


def _infer(text: str) -> str:
    """The scheme of a bare address (no known ``SCHEME:`` prefix)."""
    if text.isdigit() or text.startswith("/dev/"):
        return "device"
    if "%" in text:
        return "sequence"
    path = Path(text)
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "file"
    raise DeviceError(
        f"camera {text}: not a device index, /dev path, stream URL, sequence pattern, "
        f"folder or existing file; schemes: {_known()}"
    )


def _check(text: str, scheme: str, target: str) -> None:
    """Refuse now what cannot be opened for sure (a missing file, folder or photo)."""
    path = Path(target)
    if scheme == "sequence" and not path.parent.is_dir():
        raise DeviceError(f"camera {text}: folder of the image sequence does not exist")
    if scheme == "folder" and not path.is_dir():
        raise DeviceError(f"camera {text}: {target} is not a folder")
    if scheme in ("file", "synthetic") and not path.is_file():
        raise DeviceError(f"camera {text}: {target} is not a file")
