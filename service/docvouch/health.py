"""The health port: ``/healthz`` and ``/readyz`` answered by a thread beside the event loop.

Under a flood the event loop serves its ready connections in turn, so a probe on the
service's own port waits behind up to a thousand of them (p99 0.3 s measured with 1,000
connections sending 1 MiB bodies, RELIABILITY). An orchestrator's probe should say
whether the service is alive and ready, not how long that queue is. With ``health_port``
set, a thread with its own event loop answers both routes on that port:

* the service's loop publishes a :class:`Snapshot` every ``BEAT_S`` (its readiness, as
  ``/readyz`` would answer it), so the thread only reads one immutable object and never
  touches the pool;
* ``/healthz`` is 200 while the last snapshot is younger than ``health_stall_s``, and 503
  ``stalled`` past it: a loop that has not run for that long is not alive, whatever the
  thread says. ``/readyz`` answers the snapshot's readiness, or ``stalled`` likewise.

The thread needs the interpreter lock for well under a millisecond per probe; the busy loop
hands it over within the switch interval, so a probe's wait is bounded by that, not by the
loop's queue. :meth:`HealthPort.start` lowers the interval from Python's 5 ms to 1 ms: it
only matters while a thread waits for the lock, which here is a probe arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from docvouch import __version__, problems
from docvouch.errors import DocVouchError
from docvouch.keys import REQUEST_ID
from docvouch.logs import get_logger
from docvouch.response_headers import harden, request_id_of

BEAT_S = 0.1  # how often the service's loop publishes its snapshot
BACKLOG = 128  # the health port's accept queue (probes come a few a second)
SWITCH_INTERVAL_S = 0.001  # how soon the busy loop hands the interpreter lock to a probe
_START_TIMEOUT_S = 10.0
log = get_logger("docvouch.health")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the service's loop last said about itself (replaced whole, never changed)."""

    at: float  # time.monotonic() when published
    ready_status: int
    ready_body: bytes  # /readyz's JSON (200) or problem+json (503)
    ready_headers: tuple[tuple[str, str], ...] = ()


class HealthPort:
    """The thread serving the health port; ``publish`` is called on the service's loop."""

    def __init__(self, sockets: list[socket.socket], *, stall_s: float,
                 started: float) -> None:
        self.sockets = sockets
        self.stall_s = stall_s
        self.started = started
        self.snapshot = Snapshot(time.monotonic(), 503, b"{}")
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._listening = threading.Event()
        self._failure: BaseException | None = None

    def publish(self, readiness: Any) -> None:
        """Publish ``readiness()`` (the /readyz body, or a DocVouchError) as of now."""
        try:
            body, status, headers = orjson.dumps(readiness()), 200, ()
        except DocVouchError as exc:
            refusal = problems.from_error(exc)
            assert isinstance(refusal.body, bytes)
            body, status = refusal.body, refusal.status
            headers = tuple((k, v) for k, v in refusal.headers.items()
                            if k.lower() in ("content-type", "retry-after"))
        self.snapshot = Snapshot(time.monotonic(), status, body, headers)

    def start(self) -> None:
        """Serve in a thread; returns once it listens (OSError if it cannot)."""
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._thread = threading.Thread(target=self._run, name="docvouch-health", daemon=True)
        self._thread.start()
        if not self._listening.wait(_START_TIMEOUT_S) or self._failure is not None:
            raise OSError(f"the health port did not start: {self._failure!r}")

    def stop(self) -> None:
        """Close the health port and end the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is not None and thread.is_alive() and loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop ended meanwhile
                loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=5)
        if thread is None or not thread.is_alive():  # never close what a live thread uses
            for sock in self.sockets:
                sock.close()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(), or logged if it ends later
            self._failure = exc
            self._listening.set()
            log.error("health_port_failed", detail=repr(exc))

    async def _serve(self) -> None:
        app = web.Application(middlewares=[_problems])
        app.on_response_prepare.append(_on_prepare)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, handle_signals=False, access_log=None,
                               keepalive_timeout=30)
        await runner.setup()
        try:
            for sock in self.sockets:
                await web.SockSite(runner, sock, backlog=BACKLOG).start()
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._listening.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def _stalled(self, age: float) -> web.Response | None:
        if age <= self.stall_s:
            return None
        return problems.problem(
            503, "stalled", "Event loop stalled",
            f"the service's event loop has not run for {age:.1f} s (limit: health_stall_s "
            f"= {self.stall_s:g})", extra={"stalled_s": round(age, 1)})

    async def _healthz(self, _request: web.Request) -> web.Response:
        snapshot = self.snapshot  # before the clock: a newer snapshot must not look future
        now = time.monotonic()
        age = now - snapshot.at
        stalled = self._stalled(age)
        if stalled is not None:
            return stalled
        body = {"status": "ok", "version": __version__,
                "uptime_s": round(now - self.started, 3), "loop_lag_ms": round(age * 1000, 1)}
        return web.Response(body=orjson.dumps(body), content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        snapshot = self.snapshot
        stalled = self._stalled(time.monotonic() - snapshot.at)
        if stalled is not None:
            return stalled
        headers = {"Cache-Control": "no-store", "Content-Type": "application/json",
                   **dict(snapshot.ready_headers)}
        return web.Response(status=snapshot.ready_status, body=snapshot.ready_body,
                            headers=headers)


@web.middleware
async def _problems(request: web.Request, handler: Any) -> web.StreamResponse:
    """aiohttp's 404/405 as problem+json, as on the service's port, with the request id."""
    request_id = request_id_of(request)
    request[REQUEST_ID] = request_id
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            near = problems.nearby_path(request)
            hint = f"; did you mean {near}?" if near else ""
            return problems.problem(404, "not_found", "Not found",
                                    f"the health port answers GET /healthz and /readyz "
                                    f"only{hint}", request_id=request_id)
        return problems.from_http(exc, request, request_id=request_id)


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """The service port's hardening headers and request id here too (a proxy may expose
    this port, and a probe's failure is found in the logs by its id)."""
    harden(response.headers)
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers["X-Request-ID"] = request_id


async def publish_forever(port: HealthPort, readiness: Any) -> None:
    """The service loop's side: publish a snapshot every ``BEAT_S`` until cancelled.

    A snapshot that cannot be built is logged (once in a row) and not published: the one
    before it ages until the health port says ``stalled``, which is the truth.
    """
    failing = False
    while True:
        try:
            port.publish(readiness)
            failing = False
        except Exception as exc:
            if not failing:
                log.error("health_snapshot_failed", detail=repr(exc))
            failing = True
        await asyncio.sleep(BEAT_S)
