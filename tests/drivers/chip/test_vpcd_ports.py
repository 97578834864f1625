"""vpcd ports are claimed through private lock files: the first free one, or a wait that says
so; a link on a claim held by the caller leaves it held. A stand-in vpcd (a TCP listener)
takes the place of pcscd here, and ``XDG_RUNTIME_DIR`` keeps the locks away from other runs."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.chip.vpcd import VpcdCardLink, claim_vpcd_port, reader_name
from gate.errors import DeviceTimeoutError

PORTS = (35963, 35964)


@pytest.fixture(autouse=True)
def private_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "xdg"
    base.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))


class _Card:
    atr = bytes.fromhex("3B8880010000000000000000")

    def reset(self) -> bytes:
        return self.atr

    def transmit(self, command: bytes) -> bytes:
        return b"\x90\x00"


@pytest.fixture
def fake_vpcd() -> Iterator[int]:
    """A listener that accepts card connections and keeps them open (vpcd without pcscd)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept (close alone does not)
    server.close()
    for sock in accepted:
        sock.close()
    thread.join(timeout=5)


def test_claims_take_the_free_ports_then_wait_and_say_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with claim_vpcd_port(PORTS) as first, claim_vpcd_port(PORTS) as second:
        assert (first.port, second.port) == PORTS
        assert (first.reader_name, second.reader_name) == ("Virtual PCD 00 00", "Virtual PCD 00 01")
        with (
            caplog.at_level(logging.WARNING, logger="drivers.chip.vpcd"),
            pytest.raises(DeviceTimeoutError, match="ports 35963, 35964 busy"),
        ):
            claim_vpcd_port(PORTS, timeout=0.1)
        assert "in use by other egate processes: waiting" in caplog.text
    # Released at the end of the block: the first port is free again.
    with claim_vpcd_port(PORTS, timeout=0.0) as again:
        assert again.port == PORTS[0]


def test_a_link_on_a_held_claim_keeps_it_after_the_card_leaves(fake_vpcd: int) -> None:
    with claim_vpcd_port((fake_vpcd,)) as claim:
        for _ in range(2):  # two travellers' cards on the one claimed port
            link = VpcdCardLink(_Card(), claim=claim, sync_with_pcscd=False).start()
            assert link.running and link.reader_name == reader_name(fake_vpcd)
            link.stop()
            assert claim.held
            with pytest.raises(DeviceTimeoutError, match="busy"):
                claim_vpcd_port((fake_vpcd,), timeout=0.0)


def test_a_link_that_claims_its_own_port_releases_it(fake_vpcd: int) -> None:
    link = VpcdCardLink(_Card(), port=fake_vpcd, sync_with_pcscd=False).start()
    try:
        second = VpcdCardLink(_Card(), port=fake_vpcd, timeout=0.0, sync_with_pcscd=False)
        with pytest.raises(DeviceTimeoutError, match=f"port {fake_vpcd} busy"):
            second.start()
    finally:
        link.stop()
    claim_vpcd_port((fake_vpcd,), timeout=0.0).release()
