"""Command family placeholder: its owner adds commands in ``register``."""

from __future__ import annotations

from gate.cli import Registry


def register(registry: Registry) -> None:
    """No commands yet."""
