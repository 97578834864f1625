"""Every device registry is lazy: importing it imports none of its backends, no emulator and
no optional package (python-can's BACKENDS style). Checked in a fresh interpreter each."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
