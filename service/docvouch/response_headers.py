"""Headers every response carries, on the service's port and the health port alike:
hardening (no sniffing, framing or referrers; a CSP that loads nothing) and the request id."""

from __future__ import annotations

import os
import re

from aiohttp import web
from multidict import CIMultiDict

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# A client's own id is echoed only when it is short and plain: it ends up in log lines.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_of(request: web.BaseRequest) -> str:
    """The client's ``X-Request-ID`` when it is a safe token, else a fresh random one."""
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _REQUEST_ID_RE.fullmatch(incoming) else os.urandom(16).hex()


def harden(headers: CIMultiDict[str]) -> None:
    """Add the hardening headers a handler did not set itself (the page at / sets its CSP)."""
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", API_CSP)
