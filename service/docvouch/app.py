"""``create_app(settings)``: the one factory behind ``docvouch serve`` and every test.

Middlewares, outermost first:

1. ``context``: request id, deadline, access log line, metrics, and the single place
   that turns every exception (ours and aiohttp's 404/405/413) into problem+json;
2. ``preflight``: answers CORS preflights for allowed origins (nothing else is CORS-aware
   except the response hook that adds the allow headers);
3. ``access``: API / admin keys, per route.

The worker pool is a ``cleanup_ctx`` lifecycle that starts loading in the background, so
the server listens at once (``/healthz`` 200, ``/readyz`` 503 until the indexes are
mapped) and a SIGTERM during loading still exits cleanly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources

import structlog
from aiohttp import web

from docvouch import auth, connections, handlers, problems
from docvouch.auth import KeyRing
from docvouch.cache import ResultCache
from docvouch.errors import DocVouchError, ForbiddenError
from docvouch.keys import (
    ACCESS_LOG,
    ADMIN_KEYS,
    API_KEYS,
    BODIES,
    CACHE,
    DEADLINE,
    DRAINS,
    LOADER,
    LOG_EXTRA,
    METRICS,
    OPENAPI,
    POOL,
    REQUEST_ID,
    SETTINGS,
    STARTED,
    STATIC,
)
from docvouch.logs import get_logger
from docvouch.metrics import Metrics
from docvouch.openapi import openapi_bytes
from docvouch.pool import WorkerPool
from docvouch.response_headers import harden, request_id_of
from docvouch.settings import Settings
from docvouch.validation import BodyBudget

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CORS_METHODS = "GET, POST"
CORS_HEADERS = "Authorization, Content-Type, X-Request-ID"  # clients may name their request
CORS_EXPOSE = "Retry-After, X-Request-ID, X-DocVouch-Cache, Server-Timing"
CORS_MAX_AGE_S = "600"
STATIC_TYPES = {"index.html": "text/html; charset=utf-8",
                "app.js": "text/javascript; charset=utf-8",
                "app.css": "text/css; charset=utf-8"}

# (method, path, handler, access): access is "public", "api" (API key when keys are on)
# or "admin". The OpenAPI document describes the same table.
ROUTES: tuple[tuple[str, str, Handler, str], ...] = (
    ("POST", "/v1/verify", handlers.verify, "api"),
    ("GET", "/v1/search", handlers.search, "api"),
    ("GET", "/v1/corpus", handlers.corpus, "api"),
    ("POST", "/v1/admin/reload", handlers.reload, "admin"),
    ("GET", "/metrics", handlers.metrics, "api"),
    ("GET", "/healthz", handlers.healthz, "public"),
    ("GET", "/readyz", handlers.readyz, "public"),
    ("GET", "/openapi.json", handlers.openapi, "public"),
    ("GET", "/", handlers.page, "public"),
    ("GET", "/static/{name}", handlers.page, "public"),
)
_ROUTE_PATHS = frozenset(path for _method, path, _handler, _access in ROUTES)
ACCESS = {path: access for _m, path, _h, access in ROUTES}
log = get_logger("docvouch.http")


def create_app(settings: Settings) -> web.Application:
    """The aiohttp application for ``settings`` (workers start when the app starts)."""
    app = web.Application(
        middlewares=[context_middleware, preflight_middleware, access_middleware],
        # A backstop only: handlers read bodies themselves, capped at max_body_bytes.
        client_max_size=settings.max_body_bytes + 1,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[CACHE] = ResultCache(max_entries=settings.cache_entries,
                             max_bytes=settings.cache_max_bytes)
    app[BODIES] = BodyBudget((settings.queue_max + settings.workers) * settings.max_body_bytes)
    app[API_KEYS] = KeyRing(settings.api_keys)
    app[ADMIN_KEYS] = KeyRing(settings.admin_keys)
    app[STATIC] = _load_static()
    app[OPENAPI] = openapi_bytes(settings)
    app[STARTED] = time.monotonic()
    # The access line's logger, bound once (a lazy structlog proxy builds a new logger on
    # every call: half the cost of a line). It follows the configuration of now: configure
    # logging before creating the app. capture_logs() still sees it (it edits the
    # processor list in place).
    app[ACCESS_LOG] = log.bind()
    app[DRAINS] = set()
    _register_gauges(app)
    for method, path, handler, _access in ROUTES:
        if method == "GET":
            app.router.add_get(path, handler)  # HEAD too, for probes that use it
        else:
            app.router.add_route(method, path, handler)
    app.cleanup_ctx.append(pool_context)
    app.on_cleanup.append(_close_drains)
    app.on_response_prepare.append(_on_prepare)
    return app


def _load_static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("docvouch") / "static"
    return {name: ((folder / name).read_bytes(), kind) for name, kind in STATIC_TYPES.items()}


def _register_gauges(app: web.Application) -> None:
    def gen_value(attr: str) -> Callable[[], float]:
        def read() -> float:
            pool = app.get(POOL)
            gen = pool.generation if pool is not None else None
            return float(getattr(gen, attr)) if gen is not None else 0.0
        return read

    metrics, cache = app[METRICS], app[CACHE]
    metrics.gauge_from("docvouch_queue_waiting", "Requests waiting for a worker.",
                       gen_value("waiting"))
    metrics.gauge_from("docvouch_workers_busy", "Workers running a job.",
                       gen_value("workers_busy"))
    metrics.gauge_from("docvouch_jobs_sent_ahead",
                       "Jobs sent to a busy worker to run as soon as it finishes its own.",
                       gen_value("sent_ahead"))
    metrics.gauge_from("docvouch_workers_alive", "Live worker processes.", gen_value("alive"))

    def worker_engines() -> dict[str, float]:
        pool = app.get(POOL)
        gen = pool.generation if pool is not None else None
        return {k: float(v) for k, v in gen.engines().items()} if gen is not None else {}

    metrics.gauges_from("docvouch_workers_by_engine",
                        "Live worker processes by the engine each reported when it started: "
                        "compiled (mypyc) or python.", "engine", worker_engines)
    metrics.gauge_from("docvouch_request_body_bytes",
                       "Bytes of request bodies admitted and not yet answered (budget: "
                       "(queue_max + workers) × max_body_bytes).",
                       lambda: float(app[BODIES].held))
    metrics.gauge_from("docvouch_cache_entries", "Results in the verify cache.",
                       lambda: float(len(cache)))
    metrics.gauge_from("docvouch_cache_bytes", "Serialised size of the cached results.",
                       lambda: float(cache.bytes))


async def pool_context(app: web.Application) -> AsyncIterator[None]:
    """Lifecycle: start the pool loading in the background; drain and stop it at exit."""
    settings = app[SETTINGS]
    pool = WorkerPool(settings, app[METRICS], settings.home_path())
    app[POOL] = pool
    app[LOADER] = asyncio.create_task(pool.load(), name="docvouch-load")
    yield
    # By now aiohttp has waited (up to shutdown_timeout_s) for in-flight handlers.
    app[LOADER].cancel()
    await asyncio.gather(app[LOADER], return_exceptions=True)
    await pool.close(drain_s=settings.shutdown_timeout_s)
    log.info("stopped")


async def _close_drains(app: web.Application) -> None:
    connections.close_drains(app[DRAINS])


# --- middlewares -----------------------------------------------------------------------


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, deadline, problem+json for every error, access log and metrics.

    Every refused request passes here, so it is kept cheap (a flood is mostly refusals).
    """
    started = time.perf_counter()
    app = request.app
    request_id = request_id_of(request)
    request[REQUEST_ID] = request_id
    request[DEADLINE] = asyncio.get_running_loop().time() + app[SETTINGS].request_deadline_s
    request[LOG_EXTRA] = {}
    metrics = app[METRICS]
    metrics.in_flight.inc()
    status = 500
    # Tokens rather than structlog's bound_contextvars(), which costs ~10 µs a request.
    tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        refused: DocVouchError | None = None
        try:
            response = await handler(request)
        except DocVouchError as exc:
            response = problems.from_error(exc, request_id=request_id)
            _count_rejection(app, exc)
            refused = exc
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = problems.from_http(exc, request, request_id=request_id)
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's code for it)
            raise
        except Exception:
            log.exception("unhandled_error", route=_route_label(request))
            response = problems.problem(
                500, "internal", "Internal error",
                "the service failed to handle this request; the log has the details "
                "under this request_id", request_id=request_id)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        if status >= 400:
            _spare_the_loop(request, response, refused)
        else:
            connections.served(request)
        return response
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
        metrics.in_flight.dec()
        _access_log(request, status, started)


def _spare_the_loop(request: web.Request, response: web.StreamResponse,
                    refused: DocVouchError | None) -> None:
    """After a refusal, keep the client from costing the event loop more (connections.py).

    A large body left unread is dropped on a duplicate of the socket and the connection
    closed; a kept-alive connection refused for overload is not read again until about
    its Retry-After has passed, so a client that resends at once waits in the kernel.
    """
    overloaded = refused is not None and refused.code == "overloaded"
    retry_after_s = refused.extra.get("retry_after_s", 1) if refused is not None else 1
    left = connections.unread_body(request)
    if left is not None and left >= connections.DRAIN_MIN_BYTES:
        held = connections.hold_seconds(request, retry_after_s) if overloaded else 0.0
        if connections.BodyDrain.start(request, left, request.app[DRAINS], delay_s=held):
            response.force_close()
            if held:
                request[LOG_EXTRA]["held_s"] = round(held, 2)
        return
    if overloaded:
        held = connections.hold_reading(request, retry_after_s)
        if held:
            request[LOG_EXTRA]["held_s"] = round(held, 2)
    elif (refused is not None and refused.code == "not_ready"
          and request.path.startswith("/v1/")):  # work refused while loading, not /readyz
        if connections.hold_until(request, request.app[POOL].ready_event):
            request[LOG_EXTRA]["held"] = "until_ready"
    else:
        connections.served(request)


def _count_rejection(app: web.Application, exc: DocVouchError) -> None:
    if exc.code in ("overloaded", "not_ready", "deadline_exceeded", "worker_lost"):
        app[METRICS].rejected.labels(exc.code).inc()
    if exc.status >= 500 and exc.code not in ("overloaded", "not_ready"):
        # A worker's unexpected exception arrives with its type and stack frames (code
        # lines only, no values): enough to find the bug without logging the answer.
        log.warning("request_failed", code=exc.code, detail=exc.detail,
                    exc_type=getattr(exc, "exc_type", None), frames=getattr(exc, "frames", None))


def _metrics_route(request: web.Request) -> str:
    """The route label for logs and metrics: a wrong method on a known path (405) counts
    under that path, a bounded set, rather than with the paths nothing serves."""
    route = _route_label(request)
    if route == "unmatched" and request.path in _ROUTE_PATHS:
        return request.path
    return route


def _access_log(request: web.Request, status: int, started: float) -> None:
    seconds = time.perf_counter() - started
    route = _metrics_route(request)
    request.app[METRICS].observe_request(route, request.method, status, seconds)
    # The path without its query string: queries may hold search text or a misplaced key.
    request.app[ACCESS_LOG].info(
        "request", request_id=request[REQUEST_ID], method=request.method, route=route,
        path=request.path[:200], status=status, duration_ms=round(seconds * 1000, 2),
        **request[LOG_EXTRA])


def _allowed_origin(settings: Settings, origin: str | None) -> str | None:
    """The value for Access-Control-Allow-Origin, or None when CORS does not apply."""
    if not origin or not settings.cors_origins:
        return None
    if origin in settings.cors_origins:
        return origin
    return "*" if "*" in settings.cors_origins else None


@web.middleware
async def preflight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer CORS preflights from allowed origins; everything else passes through."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        allowed = _allowed_origin(request.app[SETTINGS], request.headers.get("Origin"))
        wanted = request.headers["Access-Control-Request-Method"].upper()
        # A preflight never matches a route itself (no OPTIONS routes): look the path up.
        methods = {m for m, path, _h, _a in ROUTES if path == request.path}
        if allowed is not None and wanted in methods:
            return web.Response(status=204, headers={
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": CORS_HEADERS,
                "Access-Control-Max-Age": CORS_MAX_AGE_S})
    return await handler(request)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keys per route: API routes need a key when keys are on; admin routes need an admin key."""
    access = ACCESS.get(_route_label(request), "public")
    app = request.app
    settings = app[SETTINGS]
    if access == "api" and settings.keys_required:
        auth.require(request, app[API_KEYS], app[ADMIN_KEYS])
    elif access == "admin":
        if app[ADMIN_KEYS]:
            auth.require_admin(request, app[ADMIN_KEYS], app[API_KEYS])
        elif settings.keys_required:
            raise ForbiddenError("admin endpoints are off: no admin_keys are configured")
        else:
            _refuse_foreign_browser(request, settings)
    return await handler(request)


def _refuse_foreign_browser(request: web.Request, settings: Settings) -> None:
    # Open local mode has no key, so a web page the user visits could POST here; browsers
    # always send Origin on such requests, so refuse origins that are neither ours nor allowed.
    origin = request.headers.get("Origin")
    own = f"{request.scheme}://{request.host}"
    if origin and origin != own and _allowed_origin(settings, origin) is None:
        raise ForbiddenError("admin requests from other web origins are refused")


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Headers for every response: hardening, and CORS for allowed origins."""
    headers = response.headers
    harden(headers)
    settings = request.app[SETTINGS]
    if settings.cors_origins:
        headers.add("Vary", "Origin")
        allowed = _allowed_origin(settings, request.headers.get("Origin"))
        if allowed is not None:
            headers["Access-Control-Allow-Origin"] = allowed
            headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
