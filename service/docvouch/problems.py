"""One place that renders every error as ``application/problem+json`` (RFC 9457).

Body members: ``type`` (a stable URI per problem), ``title``, ``status``, ``detail`` (for a
person), ``code`` (for a program), ``request_id``, and problem-specific extras such as
``field`` (422), ``limit`` (413/422) or ``retry_after_s`` (503, also sent as Retry-After).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from docvouch.errors import PROBLEM_BASE, DocVouchError

PROBLEM_TYPE = "application/problem+json"
_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    408: ("request_timeout", "Request timeout"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    431: ("headers_too_large", "Request headers too large"),
}
_HTTP_DETAILS = {
    404: "there is no endpoint at this path; the API is described at /openapi.json",
    413: "the request body is larger than this service accepts",
}
_RESERVED = {"type", "title", "status", "detail", "code", "request_id"}


def problem(status: int, code: str, title: str, detail: str, *,
            request_id: str | None = None, extra: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> web.Response:
    """A problem+json response."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status,
                            "detail": detail, "code": code}
    if request_id:
        body["request_id"] = request_id
    for key, value in (extra or {}).items():
        if key not in _RESERVED and isinstance(value, str | int | float | bool | list):
            body[key] = value
    return web.Response(status=status, body=orjson.dumps(body), headers={
        "Content-Type": PROBLEM_TYPE, "Cache-Control": "no-store", **(headers or {})})


def from_error(exc: DocVouchError, *, request_id: str | None = None) -> web.Response:
    """The response for one of our own exceptions."""
    headers = {}
    retry_after = exc.extra.get("retry_after_s")
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="docvouch"'
    return problem(exc.status, exc.code, exc.title, exc.detail, request_id=request_id,
                   extra=exc.extra, headers=headers)


def from_http(exc: web.HTTPException, request: web.Request, *,
              request_id: str | None = None) -> web.Response:
    """aiohttp's own 4xx/5xx (404, 405, 413...) in the same shape."""
    status = exc.status
    code, title = _HTTP_CODES.get(status, (f"http_{status}", exc.reason or "Error"))
    headers = {}
    extra: dict[str, Any] = {}
    detail = _HTTP_DETAILS.get(status, exc.text or exc.reason or title)
    if status == 404:
        near = nearby_path(request)
        if near is not None:
            detail = f"there is no endpoint at this path; did you mean {near}? " \
                     "The API is described at /openapi.json"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        headers["Allow"] = ", ".join(allowed)
        extra["allowed"] = allowed
        detail = f"{request.method} is not allowed here; use {' or '.join(allowed)}"
    return problem(status, code, title, detail, request_id=request_id, extra=extra,
                   headers=headers)


def nearby_path(request: web.Request) -> str | None:
    """The route a 404 most likely meant: without a trailing slash (``/healthz/``), or with
    the API's version prefix (``/verify``)."""
    path = request.path.rstrip("/")
    routes = {resource.canonical for resource in request.app.router.resources()}
    for candidate in (path, f"/v1{path}"):
        if candidate and candidate != request.path and candidate in routes:
            return candidate
    return None
