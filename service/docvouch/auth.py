"""API keys: stored as SHA-256 digests, presented as ``Authorization: Bearer <key>``.

A presented key is hashed and compared with *every* stored digest through
``hmac.compare_digest``, so neither the position of a match nor a common prefix shows in
the timing. Keys are accepted only in the header: a key in the query string would be
written to proxy and browser histories, so it is refused with a message saying why.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from docvouch.errors import ForbiddenError, UnauthorizedError

MAX_KEY_CHARS = 512
QUERY_KEY_NAMES = ("api_key", "apikey", "key", "token", "access_token")


def hash_key(key: str) -> str:
    """The hex digest to put in ``api_keys`` / ``admin_keys`` for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return "dv_" + secrets.token_urlsafe(32)


class KeyRing:
    """A set of key digests that checks a presented key in constant time."""

    def __init__(self, digests: tuple[str, ...]) -> None:
        self._digests = [bytes.fromhex(d) for d in digests]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def matches(self, key: str) -> bool:
        presented = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        found = False
        for digest in self._digests:  # no early exit: the loop time is the same either way
            found |= hmac.compare_digest(presented, digest)
        return found


def bearer_key(request: web.Request) -> str:
    """The key from the Authorization header; UnauthorizedError if absent or malformed."""
    if any(name in request.query for name in QUERY_KEY_NAMES):
        raise UnauthorizedError("API keys are accepted only in the 'Authorization: Bearer "
                                "<key>' header, never in the URL")
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if not header:
        raise UnauthorizedError("this service needs an API key: send "
                                "'Authorization: Bearer <key>'")
    if scheme.lower() != "bearer" or not key or len(key) > MAX_KEY_CHARS:
        raise UnauthorizedError("the Authorization header must be 'Bearer <key>'")
    return key


def require(request: web.Request, *rings: KeyRing) -> None:
    """Pass if the request's key is in any of ``rings``; else 401."""
    key = bearer_key(request)
    if not any(ring.matches(key) for ring in rings):
        raise UnauthorizedError("the API key is not valid")


def require_admin(request: web.Request, admin: KeyRing, api: KeyRing) -> None:
    """Pass for an admin key; 403 for a valid non-admin key, 401 otherwise."""
    key = bearer_key(request)
    if admin.matches(key):
        return
    if api.matches(key):
        raise ForbiddenError("this endpoint needs an admin key")
    raise UnauthorizedError("the API key is not valid")
