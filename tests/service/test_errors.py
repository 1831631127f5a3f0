"""Every error is application/problem+json with one shape; each status and code is pinned."""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from docvouch.errors import PROBLEM_BASE

pytestmark = pytest.mark.asyncio(loop_scope="session")
MiB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


async def assert_problem(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The RFC 9457 shape, with our ``code`` and ``request_id`` members."""
    body = await response.json(content_type=None)
    assert response.status == status, body
    assert response.headers["Content-Type"] == "application/problem+json"
    assert {"type", "title", "status", "detail", "code", "request_id"} <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == PROBLEM_BASE + code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and len(body["detail"]) > 10
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


# (name, method, path, headers, body, status, code)
CASES: list[tuple[str, str, str, dict[str, str], bytes | None, int, str]] = [
    ("unknown path", "GET", "/v2/nothing", {}, None, 404, "not_found"),
    ("a trailing slash", "GET", "/healthz/", {}, None, 404, "not_found"),
    ("unknown static file", "GET", "/static/secret.py", {}, None, 404, "not_found"),
    ("wrong method", "GET", "/v1/verify", {}, None, 405, "method_not_allowed"),
    ("options without cors", "OPTIONS", "/v1/verify", {"Origin": "https://evil.example",
     "Access-Control-Request-Method": "POST"}, None, 405, "method_not_allowed"),
    ("text/plain", "POST", "/v1/verify", {"Content-Type": "text/plain"}, b'{"text":"x"}',
     415, "unsupported_media_type"),
    ("form", "POST", "/v1/verify", {"Content-Type": "application/x-www-form-urlencoded"},
     b"text=x", 415, "unsupported_media_type"),
    ("multipart", "POST", "/v1/verify", {"Content-Type": "multipart/form-data; boundary=b"},
     b"--b\r\n\r\nx\r\n--b--\r\n", 415, "unsupported_media_type"),
    ("no content type", "POST", "/v1/verify", {}, b'{"text":"x"}', 415,
     "unsupported_media_type"),
    ("latin-1 charset", "POST", "/v1/verify", {"Content-Type": "application/json; "
     "charset=latin-1"}, b'{"text":"x"}', 415, "unsupported_media_type"),
    ("unknown content coding", "POST", "/v1/verify", {**JSON, "Content-Encoding": "foo"},
     b'{"text":"x"}', 415, "unsupported_media_type"),
    # x-gzip is gzip's old name, but aiohttp would pass such a body on still compressed
    ("x-gzip content coding", "POST", "/v1/verify", {**JSON, "Content-Encoding": "x-gzip"},
     gzip.compress(b'{"text":"x"}'), 415, "unsupported_media_type"),
    ("stacked content codings", "POST", "/v1/verify", {**JSON, "Content-Encoding": "gzip, gzip"},
     gzip.compress(gzip.compress(b'{"text":"x"}')), 415, "unsupported_media_type"),
    ("gzip that is not gzip", "POST", "/v1/verify", {**JSON, "Content-Encoding": "gzip"},
     b'{"text":"x"}', 400, "invalid_encoding"),
    ("deflate that is not deflate", "POST", "/v1/verify",
     {**JSON, "Content-Encoding": "deflate"}, b'{"text":"x"}', 400, "invalid_encoding"),
    # a truncated stream decodes to the JSON it held so far: the JSON parser refuses it
    ("gzip cut short", "POST", "/v1/verify", {**JSON, "Content-Encoding": "gzip"},
     gzip.compress(b'{"text":"x"}')[:12], 400, "invalid_json"),
    ("empty body", "POST", "/v1/verify", JSON, b"", 400, "invalid_json"),
    ("broken json", "POST", "/v1/verify", JSON, b'{"text": ', 400, "invalid_json"),
    ("invalid utf-8", "POST", "/v1/verify", JSON, b'{"text": "\xff\xfe"}', 400, "invalid_json"),
    ("overlong utf-8", "POST", "/v1/verify", JSON, b'{"text": "\xc0\xaf"}', 400,
     "invalid_json"),
    ("utf-16 with bom", "POST", "/v1/verify", JSON, '{"text": "x"}'.encode("utf-16"), 400,
     "invalid_json"),
    ("lone surrogate", "POST", "/v1/verify", JSON, b'{"text": "\\ud800"}', 400, "invalid_json"),
    ("deep arrays", "POST", "/v1/verify", JSON, b"[" * 100_000 + b"]" * 100_000, 400,
     "invalid_json"),
    ("deep objects", "POST", "/v1/verify", JSON, b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
     400, "invalid_json"),
    ("not an object", "POST", "/v1/verify", JSON, b'["text"]', 422, "invalid_field"),
    ("missing text", "POST", "/v1/verify", JSON, b'{"source": {}}', 422, "invalid_field"),
    ("text not a string", "POST", "/v1/verify", JSON, b'{"text": 12}', 422, "invalid_field"),
    ("unknown field", "POST", "/v1/verify", JSON, b'{"text": "x", "txet": 1}', 422,
     "invalid_field"),
    ("unknown option", "POST", "/v1/verify", JSON, b'{"text": "x", "options": {"topk": 1}}',
     422, "invalid_field"),
    ("top_k too big", "POST", "/v1/verify", JSON, b'{"text": "x", "options": {"top_k": 51}}',
     422, "invalid_field"),
    ("top_k a boolean", "POST", "/v1/verify", JSON,
     b'{"text": "x", "options": {"top_k": true}}', 422, "invalid_field"),
    ("max_claims over the limit", "POST", "/v1/verify", JSON,
     b'{"text": "x", "options": {"max_claims": 201}}', 422, "invalid_field"),
    ("unknown corpus", "POST", "/v1/verify", JSON,
     b'{"text": "x", "options": {"corpus": "nope"}}', 422, "unknown_corpus"),
    ("source not an object", "POST", "/v1/verify", JSON, b'{"text": "x", "source": "web"}',
     422, "invalid_field"),
    ("search without q", "GET", "/v1/search", {}, None, 422, "invalid_field"),
    ("search with bad k", "GET", "/v1/search?q=json&k=ten", {}, None, 422, "invalid_field"),
    ("search with a spaced k", "GET", "/v1/search?q=json&k=%205", {}, None, 422,
     "invalid_field"),
    ("search with an underscored k", "GET", "/v1/search?q=json&k=1_0", {}, None, 422,
     "invalid_field"),
    ("search with a full-width k", "GET", "/v1/search?q=json&k=%EF%BC%95", {}, None, 422,
     "invalid_field"),
    ("search with a huge k", "GET", "/v1/search?q=json&k=" + "9" * 40, {}, None, 422,
     "invalid_field"),
    ("search in unknown corpus", "GET", "/v1/search?q=json&corpus=nope", {}, None, 422,
     "unknown_corpus"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status", "code"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_error_shape(shared: TestClient, method: str, path: str, headers: dict[str, str],
                           body: bytes | None, status: int, code: str) -> None:
    async with shared.request(method, path, headers=headers, data=body) as response:
        await assert_problem(response, status, code)
        assert not any(h.startswith("Access-Control-") for h in response.headers)


@pytest.mark.parametrize(("body", "field"), [
    (b'{"source": {}}', "text"),
    (b'{"text": 12}', "text"),
    (b'{"text": "x", "txet": 1}', "txet"),
    (b'{"text": "x", "options": {"top_k": 0}}', "options.top_k"),
    (b'{"text": "x", "options": {"max_claims": "5"}}', "options.max_claims"),
    (b'{"text": "x", "source": {"url": 5}}', "source.url"),
    (b'{"text": "x", "options": {"corpus": "nope"}}', "options.corpus"),
])
async def test_schema_errors_name_the_field(shared: TestClient, body: bytes, field: str) -> None:
    async with shared.post("/v1/verify", data=body, headers=JSON) as response:
        problem = await response.json()
    assert response.status == 422
    assert problem["field"] == field
    assert problem["detail"].startswith(field + ":")


@pytest.mark.parametrize(("path", "meant"), [("/healthz/", "/healthz"),
                                             ("/verify", "/v1/verify"),
                                             ("/corpus/", "/v1/corpus")])
async def test_a_near_miss_404_names_the_route_it_likely_meant(
        shared: TestClient, path: str, meant: str) -> None:
    async with shared.get(path) as response:
        body = await assert_problem(response, 404, "not_found")
    assert f"did you mean {meant}?" in body["detail"]
    async with shared.get("/v2/nothing") as response:
        body = await assert_problem(response, 404, "not_found")
    assert "did you mean" not in body["detail"]


async def test_method_not_allowed_says_what_is(shared: TestClient) -> None:
    async with shared.delete("/v1/corpus") as response:
        problem = await assert_problem(response, 405, "method_not_allowed")
        assert response.headers["Allow"] == "GET, HEAD"
    assert problem["allowed"] == ["GET", "HEAD"]
    assert "use GET or HEAD" in problem["detail"]


async def test_answer_over_max_answer_chars_is_422_answer_too_long(shared: TestClient) -> None:
    async with shared.post("/v1/verify", json={"text": "a" * 100_000}) as response:
        assert response.status == 200
    async with shared.post("/v1/verify", json={"text": "a" * 100_001}) as response:
        problem = await assert_problem(response, 422, "answer_too_long")
    assert problem["limit"] == 100_000 and problem["field"] == "text"


async def test_body_of_exactly_max_body_bytes_is_accepted_one_more_is_413(
        shared: TestClient) -> None:
    def body_of(size: int) -> bytes:
        # JSON whitespace pads the body; the answer itself stays short.
        head, tail = b'{"text": "Use `os.getcwd()`."', b"}"
        return head + b" " * (size - len(head) - len(tail)) + tail

    async with shared.post("/v1/verify", data=io.BytesIO(body_of(MiB)), headers=JSON) as response:
        assert response.status == 200, await response.text()
    async with shared.post("/v1/verify", data=io.BytesIO(body_of(MiB + 1)),
                           headers=JSON) as response:
        problem = await assert_problem(response, 413, "payload_too_large")
    assert problem["limit"] == MiB


async def test_ten_megabytes_with_content_length_is_refused_before_reading(
        shared: TestClient) -> None:
    started = time.perf_counter()
    async with shared.post("/v1/verify", data=io.BytesIO(b"{" + b" " * (10 * MiB)),
                           headers=JSON) as response:
        await assert_problem(response, 413, "payload_too_large")
    assert time.perf_counter() - started < 1.0


async def test_chunked_body_without_length_is_capped_while_reading(shared: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(10 * 16):  # 10 MiB in 64 KiB chunks
            yield b"a" * 65536

    async with shared.post("/v1/verify", data=chunks(), headers=JSON) as response:
        assert "Content-Length" not in response.request_info.headers
        await assert_problem(response, 413, "payload_too_large")


async def test_tiny_chunks_are_capped_too(shared: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(MiB // 512 + 10):
            yield b"b" * 512

    async with shared.post("/v1/verify", data=chunks(), headers=JSON) as response:
        await assert_problem(response, 413, "payload_too_large")


async def test_gzip_bomb_is_capped_after_decompression(shared: TestClient) -> None:
    bomb = gzip.compress(b'{"text": "' + b"z" * (32 * MiB) + b'"}', compresslevel=9)
    assert len(bomb) < 64_000  # 32 MiB inflated from a body well under the limit
    headers = {**JSON, "Content-Encoding": "gzip"}
    async with shared.post("/v1/verify", data=bomb, headers=headers) as response:
        await assert_problem(response, 413, "payload_too_large")


async def test_nul_and_control_characters_are_accepted_after_normalisation(
        shared: TestClient) -> None:
    text = "Use `os.getcwd()`\u0000 to get the directory.\u202e \u200d"
    async with shared.post("/v1/verify", json={"text": text}) as response:
        assert response.status == 200
        body = await response.json()
    assert "\u0000" not in body["claims"][0]["text"]


async def test_many_combining_marks_do_not_fail(shared: TestClient) -> None:
    text = "a" + "\u0301" * 10_000 + " and `os.getcwd()` returns a string."
    async with shared.post("/v1/verify", json={"text": text}) as response:
        assert response.status == 200


async def test_a_gzip_body_is_verified(shared: TestClient) -> None:
    body = gzip.compress(b'{"text": "Use `os.makedirs(p, exist_ok=True)` for nested folders."}')
    async with shared.post("/v1/verify", data=body,
                           headers={**JSON, "Content-Encoding": "gzip"}) as response:
        assert response.status == 200
        assert (await response.json())["claims"][0]["verdict"] == "supported"


async def test_a_search_query_is_normalised_like_an_answer(shared: TestClient) -> None:
    async with shared.get("/v1/search", params={"q": "json\x00 dumps", "k": "3"}) as response:
        body = await response.json()
    assert response.status == 200
    assert body["query"] == "json dumps" and body["k"] == 3
    assert body["results"]
