"""listeners.py on real loopback sockets: a stop resets no connection the kernel already queued."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from docvouch import listeners

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the socket filter and /proc are Linux's")


def queued_clients(port: int, count: int) -> list[socket.socket]:
    """Clients whose handshake the kernel completed and whose request is sent, while the
    service has not accepted them yet."""
    clients = []
    for n in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=2)
        client.sendall(f"request {n}\n".encode())
        clients.append(client)
    return clients


def test_closing_a_listener_resets_the_connections_still_queued() -> None:
    """The failure the module exists for: without take_queued, the queued clients lose
    their requests."""
    [listener] = listeners.bind("127.0.0.1", 0, backlog=16)
    clients = queued_clients(listener.getsockname()[1], 2)
    listener.close()
    for client in clients:
        with pytest.raises(ConnectionResetError):
            client.recv(100)
        client.close()


def test_a_stop_serves_the_queued_connections_and_completes_no_new_one() -> None:
    [listener] = listeners.bind("127.0.0.1", 0, backlog=16)
    port = listener.getsockname()[1]
    clients = queued_clients(port, 3)
    assert listeners.refuse_new([listener]) is True

    late = socket.socket()
    late.settimeout(0.5)
    with pytest.raises(TimeoutError):  # its SYN is dropped: no handshake, no queued request
        late.connect(("127.0.0.1", port))
    late.close()

    taken = listeners.take_queued([listener])
    listener.close()
    assert len(taken) == 3
    for n, (client, connection) in enumerate(zip(clients, taken, strict=True)):
        connection.setblocking(True)
        assert connection.recv(100) == f"request {n}\n".encode()
        # the filter was the listener's: the accepted connections still carry traffic
        client.sendall(b"more")
        assert connection.recv(100) == b"more"
        connection.sendall(b"answer")
        assert client.recv(100) == b"answer"
        connection.close()
        client.close()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_bind_leaves_no_socket_open_when_the_port_is_taken() -> None:
    [taken] = listeners.bind("127.0.0.1", 0, backlog=16)
    port = taken.getsockname()[1]
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError):
        listeners.bind("127.0.0.1", port, backlog=16)
    assert len(os.listdir("/proc/self/fd")) == open_before
    taken.close()


def test_bind_listens_on_every_address_of_the_name() -> None:
    sockets = listeners.bind("localhost", 0, backlog=16)
    try:
        families = {sock.family for sock in sockets}
        assert socket.AF_INET in families
        assert all(not sock.getblocking() for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()
