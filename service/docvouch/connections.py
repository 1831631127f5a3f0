"""Connection-level defences of the event loop, for clients that send faster than they are served.

One event loop both refuses the excess and feeds the workers, so what a refusal costs the
loop decides how much is left for the work (RELIABILITY, "Overload degrades"). Two kinds of
client make refusals expensive:

* **Clients that ignore Retry-After** and resend at once on the same connection (wrk in
  L1): a thousand of them produce a ready request per millisecond. After an ``overloaded``
  503 on a kept-alive connection, :func:`hold_reading` stops reading that connection for
  about its Retry-After (a random 50-100% of it, so that held connections do not all come
  back at once). The next request waits in the kernel's buffer and costs the loop nothing
  meanwhile; a client that honours Retry-After never notices. Each further 503 in a row
  on the same connection doubles the hold, up to ``HOLD_MAX_S``: the backoff such a
  client should have done, so that a thousand of them cost the loop a few hundred
  refusals a second instead of a thousand (each ~0.5-1 ms of the loop's time).
* **Large bodies refused before they are read** (the body budget, overload, 413, 415, 401): the
  client only reads the refusal once it has sent its whole body, so the body must still be
  taken off the socket, or closing the socket would reset the connection and lose the
  refusal. aiohttp's lingering close does that through its HTTP parser and a stream
  buffer, copying every byte twice; :class:`BodyDrain` instead reads the rest of the
  declared length on a duplicate of the socket (``MSG_TRUNC`` on Linux: the kernel drops
  the bytes without copying them), then closes it. aiohttp closes its own descriptor at
  once; the connection ends (FIN, not RST) when the drain closes the duplicate. After an
  overload refusal the drain starts only after the same hold as a kept-alive connection
  gets: a client that sends the rest of its body anyway waits on its own socket.
* **The first read of every connection**: asyncio reads up to 256 KiB at a time, so each
  new connection that sends a large body at once costs the loop 256 KiB copied twice (by
  the read, then by the HTTP parser) before the request can even be refused.
  :func:`read_in_small_chunks` makes it 64 KiB (aiohttp itself pauses reading past two
  64 KiB buffers); a body that is read costs a few more, cheaper, reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import random
import socket
import sys
import weakref
from typing import Any

from aiohttp import hdrs, web

# The longest hold. A client's timeout must cover it plus request_deadline_s (wrk's 15 s in
# L1 does: 4 + 10).
HOLD_MAX_S = 4.0
HOLD_MIN_FRACTION = 0.5  # a hold lasts 50-100% of min(Retry-After × 2^(n-1), HOLD_MAX_S)
# Overload refusals in a row per kept-alive connection (forgotten with the connection).
_REFUSALS: weakref.WeakKeyDictionary[asyncio.BaseTransport, int] = \
    weakref.WeakKeyDictionary()
DRAIN_LIMIT_S = 10.0  # as aiohttp's lingering_time: a body still coming after this is cut
# Less than this left unread is left to aiohttp (cheap, and the connection stays open).
DRAIN_MIN_BYTES = 64 * 1024
READ_BYTES = 64 * 1024  # per read of a client connection (asyncio's default: 256 KiB)
_CHUNK = 1024 * 1024
# Linux's TCP drops the data on recv(MSG_TRUNC) without copying it; elsewhere the bytes are
# copied into one shared scratch buffer and forgotten. An anonymous mapping: its pages
# only take memory once written, which MSG_TRUNC never does.
_FLAGS = socket.MSG_TRUNC if sys.platform.startswith("linux") else 0
_SCRATCH = mmap.mmap(-1, _CHUNK)


def read_in_small_chunks(server: web.Server) -> None:
    """Have every connection of ``server`` read at most ``READ_BYTES`` per system call.

    Set on the transport when aiohttp registers the connection, which asyncio does before
    the first read. Transports without the attribute (other event loops) are left alone.
    """
    registered = server.connection_made

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        if isinstance(getattr(transport, "max_size", None), int):
            transport.max_size = READ_BYTES  # type: ignore[attr-defined]
        registered(handler, transport)

    server.connection_made = connection_made  # type: ignore[method-assign]


def hold_seconds(request: web.BaseRequest, retry_after_s: float) -> float:
    """How long to hold ``request``'s connection after an overload refusal: a random
    50-100% of its Retry-After, doubled for each such refusal in a row on the connection,
    at most ``HOLD_MAX_S``."""
    transport = request.transport
    refusals = 1
    if transport is not None:
        refusals = min(_REFUSALS.get(transport, 0) + 1, 8)
        _REFUSALS[transport] = refusals
    target = min(float(retry_after_s) * 2 ** (refusals - 1), HOLD_MAX_S)
    return target * random.uniform(HOLD_MIN_FRACTION, 1.0)


def hold_reading(request: web.BaseRequest, retry_after_s: float) -> float:
    """Stop reading ``request``'s connection for :func:`hold_seconds`; the seconds held, or
    0 when the connection was left alone.

    Only for a connection that stays open with nothing of this request left to read (a
    request whose body is unread is drained and closed instead, see :class:`BodyDrain`).
    """
    transport = _holdable(request)
    if transport is None:
        return 0.0
    seconds = hold_seconds(request, retry_after_s)
    transport.pause_reading()
    asyncio.get_running_loop().call_later(seconds, _resume, transport)
    return seconds


# A not_ready 503 (the indexes still loading after a start or restart) holds the
# connection until the service is ready, at most this long: a client that resends at once
# gets one 503 per connection instead of thousands (RELIABILITY G4).
NOT_READY_HOLD_MAX_S = 10.0
_WAITERS: set[asyncio.Task[None]] = set()


def hold_until(request: web.BaseRequest, ready: asyncio.Event,
               max_s: float = NOT_READY_HOLD_MAX_S) -> bool:
    """Stop reading ``request``'s connection until ``ready`` is set or ``max_s`` passes;
    False when the connection was left alone (same conditions as :func:`hold_reading`)."""
    transport = _holdable(request)
    if transport is None or ready.is_set():
        return False
    transport.pause_reading()

    async def release() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), max_s)
        _resume(transport)

    waiter = asyncio.get_running_loop().create_task(release())
    _WAITERS.add(waiter)
    waiter.add_done_callback(_WAITERS.discard)
    return True


def _holdable(request: web.BaseRequest) -> asyncio.Transport | None:
    """The request's transport if its connection can be held: open, read, kept alive and
    with nothing of this request left to read."""
    transport = request.transport
    if (transport is None or transport.is_closing() or not transport.is_reading()
            or not request.keep_alive or not request.content.is_eof()):
        return None
    return transport  # type: ignore[return-value]


def served(request: web.BaseRequest) -> None:
    """A request on this connection was not refused for overload: its holds start over."""
    transport = request.transport
    if transport is not None and _REFUSALS:
        _REFUSALS.pop(transport, None)


def _resume(transport: asyncio.Transport) -> None:
    # aiohttp pauses a transport itself only when its buffers fill, which needs reading;
    # nothing was read during the hold, so the pause being lifted here is ours.
    if not transport.is_closing() and not transport.is_reading():
        transport.resume_reading()


def unread_body(request: web.BaseRequest) -> int | None:
    """Bytes of ``request``'s body still on the socket, when the declared length tells
    (None for chunked or compressed bodies, or when nothing is left)."""
    length = request.content_length
    if (length is None or request.content.is_eof()
            or hdrs.CONTENT_ENCODING in request.headers):
        return None
    left = length - request.content.total_bytes
    return left if left > 0 else None


class BodyDrain:
    """Reads and drops the rest of a refused request's body on a duplicate of its socket,
    after ``delay_s`` (for an overload refusal: the client is held like a kept-alive one,
    see :func:`hold_seconds`)."""

    def __init__(self, sock: socket.socket, left: int, drains: set[BodyDrain],
                 delay_s: float) -> None:
        self._sock = sock
        self._left = left
        self._drains = drains
        self._loop = asyncio.get_running_loop()
        self._reading = False
        self._timer = self._loop.call_later(delay_s, self._begin)
        drains.add(self)

    @classmethod
    def start(cls, request: web.BaseRequest, left: int, drains: set[BodyDrain], *,
              delay_s: float = 0.0) -> bool:
        """Take over the ``left`` unread bytes of ``request``'s body (see :func:`unread_body`);
        True if done.

        The caller's response must then close the connection (``force_close``): aiohttp
        skips its lingering close, as the payload is marked finished here.
        """
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        original = transport.get_extra_info("socket")
        if original is None:
            return False
        try:
            sock = original.dup()
        except OSError:  # out of descriptors: aiohttp's lingering close does it
            return False
        sock.setblocking(False)
        # The payload first: finishing it lifts aiohttp's own pause (a full buffer), which
        # would resume the transport.
        request.content.feed_eof()
        transport.pause_reading()  # from now on only the duplicate reads this socket
        cls(sock, left, drains, delay_s)
        return True

    def _begin(self) -> None:
        self._reading = True
        self._loop.add_reader(self._sock.fileno(), self._readable)
        self._timer = self._loop.call_later(DRAIN_LIMIT_S, self.close)

    def _readable(self) -> None:
        try:
            count = self._sock.recv_into(_SCRATCH, min(self._left, _CHUNK), _FLAGS)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            count = 0  # reset by the client
        self._left -= count
        if count == 0 or self._left <= 0:
            self.close()

    def close(self) -> None:
        """Stop reading and close the duplicate (the connection ends if aiohttp's is closed)."""
        if self._sock.fileno() < 0:
            return
        self._timer.cancel()
        if self._reading:
            with contextlib.suppress(Exception):  # the loop may be closing
                self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._drains.discard(self)


def close_drains(drains: set[BodyDrain]) -> None:
    """Close every drain still running (the app is stopping)."""
    for drain in list(drains):
        drain.close()
