"""Devices: cameras, turnstiles, chip readers; each real driver beside its emulator."""
