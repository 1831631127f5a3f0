"""Reading and checking request input: capped JSON bodies and the v1 request schemas.

Order of refusal, cheapest first: media type and content coding (415) before reading a
byte, declared length (413) before reading, room in the body budget (503) before reading,
the running size of the (decompressed) body (413) while reading, the request's deadline
(408) while reading, a body that does not decompress (400), JSON syntax / UTF-8 / depth
(400, orjson refuses more than 1024 levels), then the schema (422, naming the field).
Error messages describe values by type, never quote them: a hostile value must not end up
in logs or be re-encoded in a response.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import compression_utils, web
from aiohttp.web_protocol import RequestPayloadError

from docvouch.errors import (
    BodyEncodingError,
    BodyTimeoutError,
    InputTooLargeError,
    InvalidJSONError,
    OverloadedError,
    PayloadTooLargeError,
    SchemaError,
    UnsupportedMediaTypeError,
)
from docvouch.settings import Settings

MAX_TOP_K = 50
MAX_QUERY_CHARS = 1000
MAX_SOURCE_URL_CHARS = 2048
MAX_NAME_CHARS = 100
# Longest request line a schema-valid search needs: q and corpus of 4-byte characters,
# percent-encoded (12 bytes each), plus the rest of the line. aiohttp's default is 8190,
# which would refuse a valid 1000-character query with a plain-text 400.
MAX_REQUEST_LINE_BYTES = 12 * (MAX_QUERY_CHARS + MAX_NAME_CHARS) + 1024
_DIGITS_RE = re.compile(r"[0-9]{1,9}")
VERIFY_FIELDS = frozenset({"text", "source", "options"})
OPTION_FIELDS = frozenset({"corpus", "top_k", "max_claims"})


# What aiohttp decompresses here (its parser knows gzip, deflate, br and zstd, not x-gzip):
# one coding per body, brotli and zstd only when their modules are installed. Anything else
# would reach the JSON parser still encoded.
CONTENT_ENCODINGS = frozenset({"identity", "gzip", "deflate"}
                              | ({"br"} if getattr(compression_utils, "HAS_BROTLI", False)
                                 else set())
                              | ({"zstd"} if getattr(compression_utils, "HAS_ZSTD", False)
                                 else set()))


def is_json_type(content_type: str) -> bool:
    """``application/json`` or any ``application/<x>+json``."""
    kind, _, sub = content_type.lower().partition("/")
    return kind == "application" and (sub == "json" or sub.endswith("+json"))


def check_body_headers(request: web.Request, *, max_bytes: int) -> int:
    """Refuse from the headers alone (415, 413); else the most bytes the body can take."""
    if not request.headers.get("Content-Type") or not is_json_type(request.content_type):
        raise UnsupportedMediaTypeError(
            "send the body as JSON with 'Content-Type: application/json' "
            f"(got {request.content_type[:60]!r})")
    if request.charset and request.charset.lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaTypeError("JSON bodies must be UTF-8")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding and encoding not in CONTENT_ENCODINGS:
        raise UnsupportedMediaTypeError(
            "this Content-Encoding is not supported; send the body uncompressed or as "
            f"{', '.join(sorted(CONTENT_ENCODINGS - {'identity'}))}")
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_big(max_bytes)
    if declared is None or request.headers.get("Content-Encoding"):
        return max_bytes  # chunked or compressed: only the cap is known in advance
    return declared


def _too_big(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the body is larger than {max_bytes:,} bytes", limit=max_bytes)


async def read_json(request: web.Request, *, max_bytes: int, deadline: float) -> Any:
    """The request body parsed as JSON, refusing early whatever cannot be JSON or is too big.

    The body must have arrived by ``deadline`` (``loop.time()``, the request's own): a
    client sending it slowly or not at all gets 408 instead of holding its connection and
    its part of the body budget for ever.
    """
    check_body_headers(request, max_bytes=max_bytes)
    body = bytearray()
    try:
        async with asyncio.timeout_at(deadline):
            # Chunked and compressed bodies have no trustworthy length: count while reading.
            async for chunk in request.content.iter_any():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_big(max_bytes)
    except RequestPayloadError as exc:  # aiohttp could not decompress it
        raise BodyEncodingError(
            "the body does not decode as its Content-Encoding header says; send it "
            "uncompressed, or compressed the way the header names") from exc
    except TimeoutError:
        raise BodyTimeoutError(f"the request body did not arrive within the request's "
                               f"deadline ({len(body):,} bytes came)") from None
    if not body:
        raise InvalidJSONError("the body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSONError(f"the body is not valid JSON (UTF-8, at most 1024 levels "
                               f"deep): {exc}") from exc


class BodyBudget:
    """Bytes of request bodies the service holds at once, from reading until the answer.

    Bodies are read before the queue can refuse their work, so without a bound a flood of
    large bodies on many connections is held in memory all at once. Sized to what the
    queue can take, ``(queue_max + workers) × max_body_bytes``; a request that does not fit
    is refused with 503 + Retry-After before a byte of its body is read.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    @contextlib.contextmanager
    def reserve(self, size: int, *, retry_after_s: int) -> Iterator[None]:
        """Hold ``size`` bytes for the block, or raise OverloadedError (503) at once."""
        if self.held + size > self.limit:
            raise OverloadedError(
                "too many request bodies are being handled; try again shortly",
                retry_after_s=retry_after_s)
        self.held += size
        try:
            yield
        finally:
            self.held -= size


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    text: str
    corpus: str | None
    top_k: int
    max_claims: int
    site: str | None
    url: str | None


def parse_verify(body: Any, settings: Settings) -> VerifyRequest:
    """Check a ``POST /v1/verify`` body against the schema in openapi.py."""
    obj = _object(body, "body")
    _no_unknown(obj, VERIFY_FIELDS, "")
    if "text" not in obj:
        raise SchemaError("text", "required: the answer to check, as a string")
    text = obj["text"]
    if not isinstance(text, str):
        raise SchemaError("text", f"must be a string, not {_kind(text)}")
    if len(text) > settings.max_answer_chars:
        raise InputTooLargeError(
            f"the answer has {len(text):,} characters; the limit is "
            f"{settings.max_answer_chars:,}", field="text", limit=settings.max_answer_chars,
            actual=len(text))
    site = url = None
    if obj.get("source") is not None:
        # Unknown source members are ignored: it is metadata, and newer clients may add some.
        source = _object(obj["source"], "source")
        site = _string(source.get("site"), "source.site", MAX_NAME_CHARS)
        url = _string(source.get("url"), "source.url", MAX_SOURCE_URL_CHARS)
    options = _object(obj["options"], "options") if obj.get("options") is not None else {}
    _no_unknown(options, OPTION_FIELDS, "options.")
    return VerifyRequest(
        text=text,
        corpus=_string(options.get("corpus"), "options.corpus", MAX_NAME_CHARS, empty=False),
        top_k=_integer(options.get("top_k"), "options.top_k", settings.top_k, 1, MAX_TOP_K),
        max_claims=_integer(options.get("max_claims"), "options.max_claims",
                            settings.max_claims, 1, settings.max_claims),
        site=site, url=url,
    )


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: str
    k: int
    corpus: str | None


def parse_search(query: Any) -> SearchRequest:
    """Check the query string of ``GET /v1/search``."""
    q = query.get("q")
    # Empty is refused as the schema says (minLength 1); whitespace alone is a valid string
    # that finds nothing: which characters count as blank differs between Python and the
    # schema's regular expressions, so the schema cannot promise to refuse them.
    if not q:
        raise SchemaError("q", "required: what to search for")
    if len(q) > MAX_QUERY_CHARS:
        raise SchemaError("q", f"at most {MAX_QUERY_CHARS} characters")
    raw_k = query.get("k")
    # ASCII digits only: int() would also take " 5", "1_0" and full-width digits
    if raw_k is not None and not _DIGITS_RE.fullmatch(raw_k):
        raise SchemaError("k", "must be an integer written with the digits 0-9")
    k = int(raw_k) if raw_k is not None else 10
    if not 1 <= k <= MAX_TOP_K:
        raise SchemaError("k", f"must be between 1 and {MAX_TOP_K}")
    corpus = query.get("corpus")
    if corpus is not None and not 0 < len(corpus) <= MAX_NAME_CHARS:
        raise SchemaError("corpus", f"must be 1 to {MAX_NAME_CHARS} characters")
    return SearchRequest(q, k, corpus)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "a value")


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError(name, f"must be a JSON object, not {_kind(value)}")
    return value


def _no_unknown(obj: dict[str, Any], allowed: frozenset[str], prefix: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        # Name the field (clipped: keys are caller data too) and list what is accepted.
        shown = unknown[0][:40]
        raise SchemaError(prefix + shown, "unknown field; accepted: "
                          + ", ".join(prefix + f for f in sorted(allowed)))


def _string(value: Any, name: str, limit: int, *, empty: bool = True) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SchemaError(name, f"must be a string, not {_kind(value)}")
    if len(value) > limit or (not empty and not value):
        raise SchemaError(name, f"must be {0 if empty else 1} to {limit} characters")
    return value


def _integer(value: Any, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema's "integer" includes 21.0, as the document says
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(name, f"must be an integer, not {_kind(value)}")
    if not low <= value <= high:
        raise SchemaError(name, f"must be between {low} and {high}")
    return value
