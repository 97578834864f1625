"""One exception root for everything egate raises.

Like python-can, specific errors mix in the matching built-in exception so callers can catch
either ours or the standard one (``DeviceTimeoutError`` is also a ``TimeoutError``). Errors
from third-party libraries are translated at the boundary with ``raise ... from``.
"""

from __future__ import annotations


class GateError(Exception):
    """Root of every error egate raises on purpose."""


class ConfigError(GateError, ValueError):
    """A configuration file or option is invalid; the message names the key."""


class InputError(GateError, ValueError):
    """User-supplied input (an image, a file, a dataset) cannot be used."""


class ImageError(InputError):
    """An image file is missing, unreadable, or not a usable picture."""


class ModelError(GateError):
    """A model pack is missing, corrupted, or does not match its manifest."""


class FaceError(GateError):
    """Face analysis could not produce a result for a picture (no face, several faces)."""


class DocumentError(GateError):
    """Travel-document data is malformed or fails a check (MRZ, LDS, TLV)."""


class SecurityError(DocumentError):
    """A cryptographic check failed (BAC, secure-messaging MAC, passive/active auth)."""


class DeviceError(GateError, OSError):
    """A device (camera, reader, turnstile) failed or misbehaved."""


class DeviceTimeoutError(DeviceError, TimeoutError):
    """A device did not answer in time."""


class DeviceGoneError(DeviceError, ConnectionError):
    """A device vanished (port unplugged, card removed, stream closed)."""


class ProtocolError(DeviceError):
    """A device answered with bytes that do not follow its protocol."""


class AuditError(GateError):
    """The audit log could not be written or read."""


class NoFaceError(FaceError):
    """No face (of the minimum size) was found in a picture."""


class MultipleFacesError(FaceError):
    """More faces than the policy allows; ``count`` says how many were found."""

    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count
