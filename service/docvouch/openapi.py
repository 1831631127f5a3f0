"""The OpenAPI 3.1 document served at ``GET /openapi.json``, built from the settings' limits.

Schemas are JSON Schema 2020-12 (what OpenAPI 3.1 uses), so a test can validate real
responses against them with ``jsonschema``. Request schemas mirror ``validation.py``;
response schemas pin the fields clients rely on and allow the engine to add more.
"""

from __future__ import annotations

from typing import Any

import orjson

from docvouch import __version__
from docvouch.settings import Settings
from docvouch.validation import MAX_NAME_CHARS, MAX_QUERY_CHARS, MAX_SOURCE_URL_CHARS, MAX_TOP_K

VERDICTS = ["supported", "partial", "unsupported", "contradicted"]
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problems(*statuses: int) -> dict[str, Any]:
    text = {400: "Malformed JSON, not UTF-8, nested too deep, or a compressed body that "
            "does not decompress", 401: "Missing or invalid "
            "API key", 403: "Valid key without the right, or a foreign origin",
            404: "Unknown path", 405: "Wrong method", 408: "The body did not arrive within "
            "request_deadline_s", 413: "Body over max_body_bytes",
            415: "Body is not application/json, or its Content-Encoding cannot be decoded",
            422: "A body or query parameter that breaks the schema (the problem names the "
            "field)", 503: "Overloaded, not ready, or a worker died: "
            "retry after Retry-After seconds", 504: "No result within request_deadline_s"}
    out: dict[str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {"description": text[status],
                                    "content": {PROBLEM: {"schema": _ref("Problem")}}}
        if status == 503:
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                   "description": "Seconds to wait"}}
        out[str(status)] = response
    return out


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref(schema)}}}


def _schemas(settings: Settings) -> dict[str, Any]:
    string_or_null = {"type": ["string", "null"]}
    return {
        "VerifyRequest": {
            "type": "object", "required": ["text"], "additionalProperties": False,
            "properties": {
                "text": {"type": "string", "maxLength": settings.max_answer_chars,
                         "description": "The answer (markdown). It is never fetched or "
                                        "stored; spans in the reply index its NFC form."},
                "source": {"type": ["object", "null"], "description": "Where the answer "
                           "was seen; informational only, the URL is never fetched.",
                           "properties": {
                               "site": {**string_or_null, "maxLength": MAX_NAME_CHARS},
                               "url": {**string_or_null, "maxLength": MAX_SOURCE_URL_CHARS}}},
                "options": {"type": ["object", "null"], "additionalProperties": False,
                            "properties": {
                                "corpus": {**string_or_null, "minLength": 1,
                                           "maxLength": MAX_NAME_CHARS},
                                "top_k": {"type": ["integer", "null"], "minimum": 1,
                                          "maximum": MAX_TOP_K, "default": settings.top_k},
                                "max_claims": {"type": ["integer", "null"], "minimum": 1,
                                               "maximum": settings.max_claims,
                                               "default": settings.max_claims}}}}},
        "VerifyResponse": {
            "type": "object",
            "required": ["score", "summary", "claims", "truncated", "corpus", "took_ms"],
            "properties": {
                "score": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
                "summary": _ref("Summary"),
                "claims": {"type": "array", "items": _ref("Claim"),
                           "maxItems": settings.max_claims},
                "truncated": {"type": "boolean"},
                "corpus": {"type": "object", "required": ["name", "version", "passages"],
                           "properties": {"name": {"type": ["string", "null"]},
                                          "version": {"type": ["string", "null"]},
                                          "passages": {"type": "integer"}}},
                "took_ms": {"type": "number", "minimum": 0}}},
        "Summary": {
            "type": "object", "required": ["claims", *VERDICTS],
            "properties": {k: {"type": "integer", "minimum": 0} for k in ["claims", *VERDICTS]}},
        "Claim": {
            "type": "object",
            "required": ["id", "text", "span", "kind", "verdict", "score", "reason", "symbols",
                         "evidence"],
            "properties": {
                "id": {"type": "string"}, "text": {"type": "string"},
                "span": {"type": "array", "items": {"type": "integer", "minimum": 0},
                         "minItems": 2, "maxItems": 2,
                         "description": "[start, end) in code points of the NFC text"},
                "kind": {"enum": ["prose", "code", "command"]},
                "verdict": {"enum": VERDICTS},
                "score": {"type": "number"}, "reason": {"type": "string"},
                "suggestion": {"type": "string"},
                "symbols": {"type": "array", "items": _ref("Symbol")},
                "evidence": {"type": "array", "items": _ref("Evidence")}}},
        "Symbol": {
            "type": "object", "required": ["name", "status"],
            "properties": {"name": {"type": "string"},
                           "status": {"enum": ["found", "unknown", "invalid_keyword",
                                               "deprecated", "removed", "unverified"]},
                           "suggestion": {"type": ["string", "null"]}}},
        "Evidence": {
            "type": "object", "required": ["title", "url", "snippet", "bm25", "match"],
            "properties": {"title": {"type": "string"}, "url": {"type": "string"},
                           "snippet": {"type": "string"}, "bm25": {"type": "number"},
                           "match": {"type": "number"}}},
        "SearchResponse": {
            "type": "object", "required": ["query", "k", "corpus", "results", "took_ms"],
            "properties": {
                "query": {"type": "string"}, "k": {"type": "integer"},
                "corpus": {"type": "object", "required": ["name", "build"]},
                "results": {"type": "array", "items": _ref("SearchHit")},
                "took_ms": {"type": "number"}}},
        "SearchHit": {
            "type": "object",
            "required": ["id", "title", "url", "snippet", "bm25", "source", "version"],
            "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                           "url": {"type": "string"}, "snippet": {"type": "string"},
                           "bm25": {"type": "number"}, "source": {"type": "string"},
                           "version": {"type": "string"}}},
        "CorpusList": {
            "type": "object", "required": ["default", "corpora", "unavailable"],
            "properties": {
                "default": {"type": ["string", "null"]},
                "corpora": {"type": "array", "items": _ref("Corpus")},
                "unavailable": {"type": "array", "items": {
                    "type": "object", "required": ["name", "detail"],
                    "properties": {"name": {"type": "string"}, "detail": {"type": "string"}}}}}},
        "Corpus": {
            "type": "object",
            "required": ["name", "build", "passages", "symbols", "built_at", "format_version"],
            "properties": {"name": {"type": "string"}, "build": {"type": "string"},
                           "version": {"type": ["string", "null"]},
                           "title": {"type": ["string", "null"]},
                           "passages": {"type": "integer"}, "symbols": {"type": "integer"},
                           "vocabulary": {"type": "integer"},
                           "index_bytes": {"type": "integer"},
                           "built_at": {"type": "string"},
                           "format_version": {"type": "integer"}}},
        "Health": {"type": "object", "required": ["status", "version", "uptime_s"],
                   "properties": {"status": {"const": "ok"}, "version": {"type": "string"},
                                  "uptime_s": {"type": "number"}}},
        "Ready": {"type": "object", "required": ["status", "corpora", "workers", "queue"],
                  "properties": {"status": {"const": "ready"},
                                 "corpora": {"type": "object",
                                             "additionalProperties": {"type": "string"}},
                                 "workers": {"type": "object"}, "queue": {"type": "object"}}},
        "Reload": {"type": "object", "required": ["changed", "corpora", "refused"],
                   "properties": {"changed": {"type": "boolean"},
                                  "corpora": {"type": "object", "description": "corpus → "
                                              "build now serving",
                                              "additionalProperties": {"type": "string"}},
                                  "refused": {"type": "object", "description": "corpus → "
                                              "why its new build was refused (the previous "
                                              "build keeps serving)",
                                              "additionalProperties": {"type": "string"}}}},
        "Problem": {
            "type": "object", "required": ["type", "title", "status", "detail", "code"],
            "properties": {"type": {"type": "string", "format": "uri"},
                           "title": {"type": "string"},
                           "status": {"type": "integer", "minimum": 400, "maximum": 599},
                           "detail": {"type": "string"}, "code": {"type": "string"},
                           "request_id": {"type": "string"},
                           "field": {"type": "string"},
                           "retry_after_s": {"type": "integer"}}},
    }


def _paths(settings: Settings) -> dict[str, Any]:
    key = [{}, {"bearer": []}]  # no key on loopback by default; a key whenever keys are on
    return {
        "/v1/verify": {"post": {
            "operationId": "verify", "summary": "Check an answer claim by claim",
            "security": key,
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("VerifyRequest")}}},
            "responses": {"200": _json("VerifyResponse", "Verdicts with evidence"),
                          **_problems(400, 401, 408, 413, 415, 422, 503, 504)}}},
        "/v1/search": {"get": {
            "operationId": "search", "summary": "Passages ranked for a query",
            "security": key,
            "parameters": [
                {"name": "q", "in": "query", "required": True,
                 "description": "Free text; one of only blanks or stop words finds nothing.",
                 "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS}},
                {"name": "k", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K,
                            "default": 10}},
                {"name": "corpus", "in": "query",
                 "schema": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}}],
            "responses": {"200": _json("SearchResponse", "Ranked passages"),
                          **_problems(401, 422, 503, 504)}}},
        "/v1/corpus": {"get": {
            "operationId": "corpus", "summary": "Loaded corpora, builds and counts",
            "security": key,
            "responses": {"200": _json("CorpusList", "Corpora"), **_problems(401, 503)}}},
        "/v1/admin/reload": {"post": {
            "operationId": "reload", "summary": "Swap in newly published index builds",
            "security": [{}, {"bearer": []}],
            "responses": {"200": _json("Reload", "Reloaded (or unchanged)"),
                          **_problems(401, 403, 503)}}},
        "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness",
                             "responses": {"200": _json("Health", "Alive")}}},
        "/readyz": {"get": {"operationId": "readyz", "summary": "Readiness: indexes mapped",
                            "responses": {"200": _json("Ready", "Ready"),
                                          **_problems(503)}}},
        "/metrics": {"get": {
            "operationId": "metrics", "summary": "Prometheus metrics", "security": key,
            "responses": {"200": {"description": "Prometheus text exposition",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_problems(401)}}},
        "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                  "responses": {"200": {"description": "OpenAPI 3.1",
                                                        "content": {"application/json": {}}}}}},
        "/": {"get": {"operationId": "page", "summary": "Paste-an-answer page",
                      "responses": {"200": {"description": "HTML",
                                            "content": {"text/html": {}}}}}},
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for ``settings``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "DocVouch", "version": __version__,
                 "description": "Checks AI chat answers against documentation, claim by "
                                "claim. Every error is application/problem+json (RFC 9457)."},
        "servers": [{"url": "/"}],
        "paths": _paths(settings),
        "components": {
            "schemas": _schemas(settings),
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "Needed when the service has api_keys (always off loopback); "
                               "admin endpoints take an admin key."}}},
    }


def openapi_bytes(settings: Settings) -> bytes:
    """The document, encoded once at start-up."""
    return orjson.dumps(openapi_document(settings))
