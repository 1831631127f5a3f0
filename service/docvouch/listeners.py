"""The service's listening sockets: opened by us, and closed without resetting a connection.

Closing a listening socket resets every connection still in its accept queue: the kernel
completed the handshake, the client sent its request, and it gets a reset instead of an
answer (RELIABILITY G4: a client that reconnects at once, as wrk does after a
"Connection: close", lands there during a stop). So the stop happens in two steps:

1. :func:`refuse_new` attaches a socket filter that drops every packet reaching the
   listener: no handshake completes from then on, so the queue can only shrink. The
   clients' SYNs go unanswered and are resent about a second later, to a closed port
   (refused, which clients retry) or to the service's next process (a restart).
2. :func:`take_queued` accepts what the queue still holds, to be served (with
   "Connection: close") like any other connection; then the listener is closed.

Sockets are bound here rather than by aiohttp's ``TCPSite`` so that the service holds them
(``web.SockSite``) without reaching into aiohttp's internals.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys

BACKLOG = 1024  # the service's accept queue: a thousand clients connecting at once fit
# Linux's SO_ATTACH_FILTER and one classic BPF instruction, "return 0": keep no byte of
# any packet, i.e. drop it. Accepted connections were cloned before the filter existed,
# so they do not inherit it.
_SO_ATTACH_FILTER = 26
_DROP_ALL = struct.pack("HBBI", 0x06, 0, 0, 0)  # BPF_RET | BPF_K, k = 0


def bind(host: str, port: int, *, backlog: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` resolves to (as asyncio would bind them:
    SO_REUSEADDR, IPv6 sockets IPv6-only), non-blocking. OSError if one cannot be bound,
    with none left open."""
    bound: list[socket.socket] = []
    seen: set[tuple[int, object]] = set()
    try:
        for family, kind, proto, _name, address in socket.getaddrinfo(
                host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in bound:
            sock.close()
        raise
    return bound


def refuse_new(sockets: list[socket.socket]) -> bool:
    """Complete no new connection on ``sockets`` (step 1 above). False where the platform
    has no socket filter: there a connection may still reach the queue until the close."""
    if not sys.platform.startswith("linux"):
        return False
    program = ctypes.create_string_buffer(_DROP_ALL)  # copied by the kernel in setsockopt
    fprog = struct.pack("HP", 1, ctypes.addressof(program))
    done = True
    for sock in sockets:
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
        except OSError:
            done = False
    return done


def take_queued(sockets: list[socket.socket]) -> list[socket.socket]:
    """Accept every connection already in the accept queues of ``sockets`` (step 2 above),
    as non-blocking sockets."""
    taken: list[socket.socket] = []
    for sock in sockets:
        while True:
            try:
                connection, _address = sock.accept()
            except ConnectionAbortedError:  # reset by its client while queued
                continue
            except OSError:  # the queue is empty (EAGAIN), or no descriptor is left
                break
            connection.setblocking(False)
            taken.append(connection)
    return taken
