"""``docvouch serve``: run the HTTP service until SIGTERM/SIGINT; SIGHUP reloads indexes.

``register(subparsers)`` adds the subcommand to the main CLI. Signals:

* SIGTERM / SIGINT: stop listening (connections already queued are still served), let
  in-flight requests finish (``shutdown_timeout_s``), stop the workers, exit 0. A second
  signal stops at once.
* SIGHUP: swap in newly published index builds without failing a request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import socket
import sys
import textwrap
from typing import Any

from docvouch import accel
from docvouch.settings import CONFIG_ENV, SettingsError, describe, load_settings

EXIT_OK, EXIT_START_FAILED, EXIT_USAGE = 0, 1, 2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def settings_help() -> str:
    """Every setting with its environment variable and default, for ``--help``."""
    lines = ["settings (precedence: flag > DOCVOUCH_* variable > --config TOML > default):", ""]
    for name, env, default, text in describe():
        lines.append(f"  {name:<24} {env:<32} default: {default}")
        lines.extend(textwrap.wrap(text, width=88, initial_indent=" " * 6,
                                   subsequent_indent=" " * 6))
    lines += ["", f"The TOML file (--config or {CONFIG_ENV}) takes the same names, at top level",
              "or under [serve]; list settings take arrays there and comma-separated text in",
              "the environment."]
    return "\n".join(lines)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to the ``docvouch`` argument parser."""
    parser = subparsers.add_parser(
        "serve", help="run the HTTP service (API, metrics and the paste-an-answer page)",
        description="Serve the DocVouch HTTP API on 127.0.0.1:8765 by default; the default "
                    "corpus is built on first run.",
        epilog=settings_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="address to bind (setting: host)")
    parser.add_argument("--port", type=int, help="TCP port (setting: port)")
    parser.add_argument("--workers", type=int, help="worker processes (setting: workers)")
    # dest differs from the top-level --home so argparse cannot overwrite one with the other.
    parser.add_argument("--home", dest="serve_home", metavar="DIR",
                        help="corpora directory (setting: home)")
    parser.add_argument("--config", metavar="FILE", help=f"TOML settings file (env {CONFIG_ENV})")
    parser.add_argument("--generate-key", action="store_true",
                        help="print a new random API key and the digest to configure, then exit")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Entry point of ``docvouch serve``; returns the exit code."""
    if args.generate_key:
        from docvouch.auth import hash_key, new_key

        key = new_key()
        print(f"key:     {key}\n"
              f"sha256:  {hash_key(key)}\n\n"
              "Give the key to the client (it is shown only now); put the sha256 line in "
              "api_keys or admin_keys.")
        return EXIT_OK
    # A stop signal from here on is kept for serve(), which acts on it once its event loop
    # runs. Left to the default action, SIGTERM during start-up would kill the process
    # (exit 143 under an init such as Docker's) or, with the service as PID 1 of a
    # container, be dropped by the kernel: the stop then waits for the grace period and
    # ends in SIGKILL (137). RELIABILITY G3.
    pending: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda received, _frame: pending.append(received))
    try:
        settings = load_settings(config=args.config, overrides={
            "host": args.host, "port": args.port, "workers": args.workers,
            "home": args.serve_home or getattr(args, "home", None)})
    except SettingsError as exc:
        print(f"docvouch serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from docvouch import logs

    logs.configure(settings)
    try:
        asyncio.run(serve(settings, pending=pending))
    except OSError as exc:  # the port is taken, or the address is not ours
        logs.get_logger("docvouch.serve").error(
            "start_failed", host=settings.host, port=settings.port, detail=str(exc))
        return EXIT_START_FAILED
    except asyncio.CancelledError:
        return EXIT_START_FAILED  # second signal: stopped without draining
    return EXIT_OK


async def serve(settings: Any, *, pending: list[int] | None = None) -> None:
    """Listen until a stop signal, then drain and stop (the whole service lifecycle).

    ``pending``: stop signals received before the event loop ran (see ``run``); one there
    stops the service as soon as it has started, without listening.
    """
    from docvouch import listeners
    from docvouch.logs import get_logger

    log = get_logger("docvouch.serve")
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    stop = asyncio.Event()

    listening: list[socket.socket] = []

    def on_stop(signum: int) -> None:
        if stop.is_set() and main_task is not None:
            main_task.cancel()  # second signal: do not wait any longer
        listeners.refuse_new(listening)  # before any response says "Connection: close"
        stop.set()
        log.info("stop_requested", signal=signal.Signals(signum).name)

    # Installed before the slow imports and the app's start-up: a signal arriving meanwhile
    # is delivered once the loop runs again.
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_stop, signum)
    if pending:
        on_stop(pending[0])

    from aiohttp import hdrs, web

    from docvouch.app import create_app
    from docvouch.connections import read_in_small_chunks
    from docvouch.errors import NotReadyError
    from docvouch.handlers import readiness
    from docvouch.health import BACKLOG as health_backlog
    from docvouch.health import HealthPort, publish_forever
    from docvouch.keys import POOL, STARTED
    from docvouch.validation import MAX_REQUEST_LINE_BYTES

    app = create_app(settings)

    async def close_once_stopping(_request: web.BaseRequest,
                                  response: web.StreamResponse) -> None:
        # After a stop signal every response says "Connection: close". The drain closes each
        # connection once its response is sent anyway; without the header a client that
        # reuses its connection at once (wrk, a proxy's upstream keep-alive) has already
        # sent its next request on it, which is then lost unanswered (measured: one per
        # open connection under wrk, RELIABILITY G4).
        if stop.is_set():
            response.force_close()
            response.headers[hdrs.CONNECTION] = "close"

    app.on_response_prepare.append(close_once_stopping)

    handling = _Handling()

    @web.middleware
    async def track(request: web.Request, handler: Any) -> web.StreamResponse:
        handling.started()
        return await handler(request)

    app.middlewares.insert(0, track)
    # keepalive_timeout: aiohttp's own default when no value is passed here is 3630 s, and
    # its keep-alive timer is also the only limit on a client that never finishes its
    # request headers.
    runner = web.AppRunner(app, handle_signals=False, access_log=None,
                           handler_cancellation=True,
                           keepalive_timeout=settings.keepalive_timeout_s,
                           max_line_size=MAX_REQUEST_LINE_BYTES,
                           shutdown_timeout=settings.shutdown_timeout_s)
    await runner.setup()
    assert runner.server is not None
    read_in_small_chunks(runner.server)  # 64 KiB per read, not 256 (connections.py)

    health: HealthPort | None = None
    beat: asyncio.Task[None] | None = None

    def ready_now() -> dict[str, Any]:
        if stop.is_set():  # draining: the listener is closed, send traffic elsewhere
            raise NotReadyError("not ready (stopping): the service is shutting down",
                                retry_after_s=2, state="stopping")
        return readiness(app[POOL], settings)

    try:
        if not stop.is_set():  # (a stop signal during start-up: not even listening)
            listening.extend(listeners.bind(settings.host, settings.port,
                                            backlog=listeners.BACKLOG))
            if settings.health_port:
                try:
                    health_sockets = listeners.bind(settings.host, settings.health_port,
                                                    backlog=health_backlog)
                except OSError as exc:  # say which port: the service's is fine
                    raise OSError(exc.errno, f"health_port {settings.health_port}: "
                                  f"{exc.strerror}") from exc
                health = HealthPort(health_sockets, stall_s=settings.health_stall_s,
                                    started=app[STARTED])
                health.publish(ready_now)
                health.start()
                beat = asyncio.create_task(publish_forever(health, ready_now))
            for sock in listening:
                # SockSite's own default (128) would shrink the queue listen() was given
                await web.SockSite(runner, sock, backlog=listeners.BACKLOG).start()
            # The engine's imports (numpy, scipy...) leave ~70,000 long-lived objects that
            # every full collection would scan again: under a flood a full collection ran
            # every second or so and paused the loop for ~200 ms. Out of the collector's
            # sight from here on, as in the workers (worker_main.py).
            gc.collect()
            gc.freeze()
            loop.add_signal_handler(signal.SIGHUP, app[POOL].request_reload)
            engine = accel.state()
            log.info("listening", urls=[_url(a) for a in runner.addresses],
                     health_urls=[_url(s.getsockname()) for s in health.sockets] if health
                     else [], settings=settings.public(), engine=engine.label,
                     engine_reason=engine.reason)
            await stop.wait()
        log.info("draining", timeout_s=settings.shutdown_timeout_s)
        if health is not None:
            health.publish(ready_now)  # "stopping" now, not at the next beat
    finally:
        try:
            for signum in (signal.SIGHUP,):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(signum)
            listeners.refuse_new(listening)  # (again, if start-up failed before the stop)
            queued = listeners.take_queued(listening)
            try:
                for started in list(runner.sites):
                    await started.stop()  # closes the listeners
                for sock in (sock for sock in listening if sock.fileno() != -1):
                    sock.close()  # bound, but start-up failed before it listened
                while queued:  # served like the others, then closed
                    connection = queued.pop(0)
                    try:
                        await loop.connect_accepted_socket(runner.server, connection)
                    except Exception:
                        connection.close()
            finally:
                for connection in queued:  # only if cancelled (a second signal)
                    connection.close()
            cancelled = await handling.finish(settings.shutdown_timeout_s)
            # aiohttp now closes the idle connections (and then those still answering)
            log.info("requests_finished", cancelled=cancelled)
            await runner.cleanup()
        finally:
            # The health port last: liveness holds while the service drains.
            if beat is not None:
                beat.cancel()
            if health is not None:
                health.stop()


class _Handling:
    """The requests being handled, for the drain: each request's task until its response is
    sent, and when the last one started."""

    # A kept-alive connection whose last response went out before the stop (so without
    # "Connection: close") may already carry its next request: aiohttp's drain would close
    # it unread and the request would be lost (RELIABILITY G4: one read error in a
    # restart under wrk). The drain waits until no request has started for this long.
    # Past it, closing an idle kept-alive connection is the race HTTP clients must handle.
    QUIET_S = 0.25

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.last_start = 0.0

    def started(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        self.last_start = asyncio.get_running_loop().time()

    async def finish(self, timeout_s: float) -> int:
        """Let the requests being handled finish, and any next request on a kept-alive
        connection arrive (``QUIET_S``), for up to ``timeout_s``; then cancel the rest (how
        many is returned).

        Done before aiohttp's own drain (``runner.cleanup()``), which at once stops reading
        every connection: the rest of a body still arriving would be dropped, and its
        request would wait, unanswered, for the whole timeout (RELIABILITY G3). Every
        response from the stop on says "Connection: close", so each connection brings at
        most one more request.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        end = now + timeout_s
        self.last_start = max(self.last_start, now)  # connections idle at the stop, too
        while (left := end - loop.time()) > 0:
            if self.tasks:
                await asyncio.wait(set(self.tasks), timeout=left)
                continue
            quiet_left = self.last_start + self.QUIET_S - loop.time()
            if quiet_left <= 0:
                break
            await asyncio.sleep(min(quiet_left, left))
        left_over = list(self.tasks)
        for task in left_over:
            task.cancel()  # as aiohttp does at its timeout
        return len(left_over)


def _url(address: Any) -> str:
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    """``python -m docvouch.serve_cli``: the serve command on its own."""
    parser = argparse.ArgumentParser(prog="docvouch")
    register(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
