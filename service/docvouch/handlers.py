"""Endpoint handlers: validate, hand the work to the pool (or the cache), serialise with orjson.

Nothing CPU-heavy runs here: verification and search happen in worker processes; the
loop only parses, looks up the cache and encodes the reply.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from aiohttp import web

from docvouch import __version__
from docvouch.cache import EncodedResult, cache_key
from docvouch.engine import normalise_text
from docvouch.errors import DeadlineExceededError, NotReadyError
from docvouch.generation import units_for, units_of
from docvouch.keys import (
    BODIES,
    CACHE,
    DEADLINE,
    LOG_EXTRA,
    METRICS,
    OPENAPI,
    POOL,
    SETTINGS,
    STARTED,
    STATIC,
)
from docvouch.validation import check_body_headers, parse_search, parse_verify, read_json

if TYPE_CHECKING:
    from docvouch.pool import WorkerPool
    from docvouch.settings import Settings

T = TypeVar("T")
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    """An orjson-encoded ``application/json`` response."""
    return web.Response(status=status, body=orjson.dumps(data), headers={
        "Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})})


async def within_deadline(request: web.Request, work: Awaitable[T]) -> T:
    """``await work``, or DeadlineExceededError (504) once the request's deadline passes."""
    try:
        async with asyncio.timeout_at(request[DEADLINE]):
            return await work
    except TimeoutError:
        raise DeadlineExceededError(
            f"no result within {request.app[SETTINGS].request_deadline_s:g} s; try a shorter "
            "answer, or again when the service is less busy") from None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


# A body declaring at least this many bytes is priced before it is read (see verify()).
PRICE_UNREAD_BYTES = 64 * 1024


async def verify(request: web.Request) -> web.Response:
    """POST /v1/verify: every claim of an answer with a verdict and evidence."""
    app = request.app
    settings, pool = app[SETTINGS], app[POOL]
    size = check_body_headers(request, max_bytes=settings.max_body_bytes)
    declared = request.content_length
    release = None
    if (declared is not None and declared >= PRICE_UNREAD_BYTES and pool.state == "ready"
            and "Content-Encoding" not in request.headers):
        # Priced by its declared length (its text cannot be longer, nor longer than
        # max_answer_chars) before a byte of it is read, and counted as queued while it is
        # read: under a flood of large answers, reading and parsing a megabyte only to
        # find that the queue could not finish it in time cost the loop more than
        # anything else. A cached answer this large is refused too while the queue is
        # that full.
        release = pool.reserve_unread(units_for(min(declared, settings.max_answer_chars)),
                                      deadline=request[DEADLINE])
    try:
        # The body's bytes count against the budget from before it is read until the answer.
        with app[BODIES].reserve(size, retry_after_s=pool.retry_after_s()):
            return await _verify(request, release)
    finally:
        if release is not None:
            release()


async def _verify(request: web.Request, release: Callable[[], None] | None) -> web.Response:
    started = time.perf_counter()
    app = request.app
    settings, pool, cache = app[SETTINGS], app[POOL], app[CACHE]
    body = parse_verify(await read_json(request, max_bytes=settings.max_body_bytes,
                                        deadline=request[DEADLINE]), settings)
    if release is not None:
        release()  # read: from here on the job is priced by its text (or served from cache)
    corpus = pool.pick_corpus(body.corpus)
    text = normalise_text(body.text)
    args = {"text": text, "top_k": body.top_k, "max_claims": body.max_claims,
            "max_claim_chars": settings.max_claim_chars,
            "max_answer_chars": settings.max_answer_chars}
    key = cache_key(pool.builds()[corpus], text, corpus=corpus, top_k=body.top_k,
                    max_claims=body.max_claims, max_claim_chars=settings.max_claim_chars)
    deadline = request[DEADLINE]

    async def compute() -> EncodedResult:
        return await pool.submit("verify", corpus, args, deadline=deadline)

    def admit() -> None:
        pool.check_admission(units_of(args), deadline=deadline)

    result, state = await within_deadline(request, cache.get_or_compute(key, compute, admit))
    metrics = app[METRICS]
    if state != "off":
        metrics.cache.labels(state).inc()
    metrics.observe_result(result.summary)
    request[LOG_EXTRA].update(corpus=corpus, cache=state, chars=len(text),
                              summary=result.summary, site=body.site)
    if settings.log_answers:
        request[LOG_EXTRA]["answer"] = text
    return web.Response(body=result.response_body(_ms(started)), headers={
        "Content-Type": "application/json", "Cache-Control": "no-store",
        "X-DocVouch-Cache": state,
        "Server-Timing": f'engine;dur={result.engine_ms}, cache;desc="{state}"'})


async def search(request: web.Request) -> web.Response:
    """GET /v1/search: passages ranked for a free-text query."""
    started = time.perf_counter()
    pool = request.app[POOL]
    query = parse_search(request.query)
    corpus = pool.pick_corpus(query.corpus, field="corpus")
    text = normalise_text(query.query)  # as answers are: NFC, no NULs
    results = await within_deadline(request, pool.submit(
        "search", corpus, {"query": text, "k": query.k}, deadline=request[DEADLINE]))
    request[LOG_EXTRA].update(corpus=corpus, results=len(results))
    if request.app[SETTINGS].log_answers:
        request[LOG_EXTRA]["query"] = text
    info = pool.ready_generation().corpora[corpus]
    return json_response({
        "query": text, "k": query.k,
        "corpus": {"name": corpus, "version": info.get("version"),
                   "build": pool.builds()[corpus]},
        "results": results, "took_ms": _ms(started)})


async def corpus(request: web.Request) -> web.Response:
    """GET /v1/corpus: the loaded corpora, their builds and counts."""
    pool = request.app[POOL]
    gen = pool.ready_generation()
    builds = pool.builds()
    default = request.app[SETTINGS].default_corpus
    return json_response({
        "default": default if default in gen.corpora else
        (next(iter(gen.corpora)) if len(gen.corpora) == 1 else None),
        "corpora": [{**info, "name": name, "build": builds[name]}
                    for name, info in sorted(gen.corpora.items())],
        "unavailable": [{"name": name, "detail": detail}
                        for name, detail in sorted(gen.errors.items())],
    })


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the event loop answers (liveness); touches nothing else."""
    return json_response({"status": "ok", "version": __version__,
                          "uptime_s": round(time.monotonic() - request.app[STARTED], 3)})


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: 200 once every configured corpus is mapped by live workers."""
    return json_response(readiness(request.app[POOL], request.app[SETTINGS]))


def readiness(pool: WorkerPool, settings: Settings) -> dict[str, Any]:
    """The /readyz body, or NotReadyError (also published to the health port, health.py)."""
    gen = pool.generation
    if pool.state != "ready" or gen is None or gen.alive == 0:
        state = pool.state if pool.state != "ready" else "no_workers"
        raise NotReadyError(f"not ready ({state}): {pool.detail}", retry_after_s=2,
                            state=state)
    return {
        "status": "ready", "corpora": pool.builds(),
        "workers": {"alive": gen.alive, "configured": settings.workers, "busy": gen.workers_busy},
        "queue": {"waiting": gen.waiting, "max": settings.queue_max}}


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus exposition (text, or OpenMetrics when asked for)."""
    body, content_type = request.app[METRICS].render(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type,
                                            "Cache-Control": "no-store"})


async def reload(request: web.Request) -> web.Response:
    """POST /v1/admin/reload: swap in the newest published builds of every corpus."""
    outcome = await request.app[POOL].reload()
    request[LOG_EXTRA].update(changed=outcome["changed"])
    return json_response(outcome)


async def openapi(request: web.Request) -> web.Response:
    """GET /openapi.json: the OpenAPI 3.1 description of this API."""
    return web.Response(body=request.app[OPENAPI], headers={
        "Content-Type": "application/json", "Cache-Control": "no-cache"})


async def page(request: web.Request) -> web.Response:
    """GET / and its assets: the paste-an-answer page (served from memory)."""
    name = request.match_info.get("name", "index.html")
    found = request.app[STATIC].get(name)
    if found is None:
        raise web.HTTPNotFound()
    body, content_type = found
    headers = {"Content-Type": content_type, "Cache-Control": "no-cache"}
    if name == "index.html":
        headers["Content-Security-Policy"] = PAGE_CSP
    return web.Response(body=body, headers=headers)
