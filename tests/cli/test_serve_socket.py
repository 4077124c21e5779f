"""`escucha serve` listens on a socket that drops peers gone silent (ADR 16)."""

from __future__ import annotations

import socket
import sys

import pytest

from escucha.cli.serve import DEAD_PEER_S, notice_dead_peers


@pytest.mark.skipif(sys.platform != "linux", reason="the TCP options are Linux's")
def test_accepted_connections_inherit_the_dead_peer_timeouts() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    notice_dead_peers(listener)
    listener.listen(1)
    client = socket.create_connection(listener.getsockname(), timeout=5)
    accepted, _ = listener.accept()
    try:
        for sock in (listener, accepted):
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert (
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == DEAD_PEER_S * 1000
            )
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 4
        # a fresh socket has none of it: the listener's options are what the connection carries
        plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        assert plain.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 0
        plain.close()
    finally:
        accepted.close()
        client.close()
        listener.close()
