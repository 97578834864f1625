"""The exception root: every egate error is a GateError and the matching built-in."""

from __future__ import annotations

from gate.errors import (
    DeviceError,
    DeviceGoneError,
    DeviceTimeoutError,
    GateError,
    ImageError,
    ModelError,
)


def test_device_timeout_is_both_gate_error_and_timeout() -> None:
    err = DeviceTimeoutError("reader did not answer in 2.0 s")
    assert isinstance(err, DeviceError)
    assert isinstance(err, GateError)
    assert isinstance(err, TimeoutError)


def test_device_gone_is_connection_error() -> None:
    assert isinstance(DeviceGoneError("port vanished"), ConnectionError)


def test_input_errors_are_value_errors() -> None:
    assert isinstance(ImageError("x"), ValueError)
    assert not isinstance(ModelError("x"), ValueError)
