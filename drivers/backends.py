"""The lazy half of every device registry: a ``"module:name[.attr]"`` string imported only
when an address asks for that backend (python-can's ``BACKENDS`` style), so importing a
registry imports no driver, emulator or optional package."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from gate.errors import ConfigError, DeviceError

# Optional packages behind some backends, and the extra of egate that installs each.
EXTRAS = {"pymodbus": "modbus", "smartcard": "pcsc"}


def resolve(kind: str, backends: Mapping[str, str], scheme: str) -> Any:
    """Import the backend of ``scheme`` now. ``kind`` names the device kind in errors: an
    unknown scheme lists the known ones; a backend whose module cannot be imported (an
    optional package missing) says which."""
    target = backends.get(scheme)
    if target is None:
        raise ConfigError(f"{kind} scheme {scheme!r} is not one of {', '.join(backends)}")
    return import_target(kind, target)


def import_target(kind: str, target: str) -> Any:
    """Import ``"module:name[.attr]"`` now; ``kind`` names the device kind in the error."""
    module_name, _, path = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        hint = f" (pip install 'egate[{EXTRAS[missing]}]')" if missing in EXTRAS else ""
        raise DeviceError(f"{kind} backend {target} cannot be imported: {exc}{hint}") from exc
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj
