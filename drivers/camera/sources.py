"""Where the camera API used to live; kept so that existing imports keep working.

Addresses are parsed and opened by ``drivers.camera.registry`` (``open_camera``), the
capture thread is ``drivers.camera.threaded`` (``ThreadedCamera``, ``camera_from_frames``).
New code imports those modules.
"""

from __future__ import annotations

from drivers.camera.registry import open_camera
from drivers.camera.threaded import (
    CameraStats,
    FrameGrabber,
    ThreadedCamera,
    camera_from_frames,
)

__all__ = ["CameraStats", "FrameGrabber", "ThreadedCamera", "camera_from_frames", "open_camera"]
