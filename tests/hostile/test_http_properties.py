"""Property tests against a real app: no request body or query string ever reaches a 5xx.

Every response is either 200 with the documented shape (validated against the served
``/openapi.json``) or an ``application/problem+json`` 4xx. Example counts are small so the
module stays well under a minute; hypothesis shrinks any failure to a minimal request.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from docvouch.errors import PROBLEM_BASE

pytestmark = pytest.mark.asyncio(loop_scope="session")
DOC_URI = "urn:docvouch:openapi"
JSON = {"Content-Type": "application/json"}
PROPERTY = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

_validators: dict[str, Draft202012Validator] = {}


async def response_validator(client: TestClient, name: str) -> Draft202012Validator:
    """A validator for ``components/schemas/name`` of the served document."""
    if not _validators:
        async with client.get("/openapi.json") as response:
            doc = await response.json()
        registry = Registry().with_resource(
            DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
        for schema_name in doc["components"]["schemas"]:
            _validators[schema_name] = Draft202012Validator(
                {"$ref": f"{DOC_URI}#/components/schemas/{schema_name}"}, registry=registry)
    return _validators[name]


async def assert_documented(client: TestClient, method: str, path: str, schema: str,
                            **kwargs: Any) -> int:
    """One real request: 200 with ``schema``'s shape, or a problem+json 4xx; never 5xx."""
    async with client.request(method, path, **kwargs) as response:
        raw = await response.read()
        status = response.status
        media = response.headers.get("Content-Type", "").split(";")[0]
        request_id = response.headers.get("X-Request-ID")
    assert status < 500, (status, raw[:500])
    body = orjson.loads(raw)
    if status == 200:
        assert media == "application/json"
        errors = sorted((await response_validator(client, schema)).iter_errors(body), key=str)
        assert not errors, [error.message for error in errors]
    else:
        assert 400 <= status < 500, status
        assert media == "application/problem+json", (status, media)
        assert body["status"] == status
        assert body["type"] == PROBLEM_BASE + body["code"]
        assert isinstance(body["detail"], str) and body["detail"]
        assert body["request_id"] == request_id
    return status


# JSON values of any shape: the validator must refuse what the schema does not allow.
# Integers of any size (JSON has no limit), so they are encoded by the standard library:
# orjson's encoder refuses those past 64 bits, which a client may still send.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)

# Bodies close to valid ones, so the property also exercises the engine, not only validation.
option_values = st.one_of(st.integers(-5, 300), st.text(max_size=20), st.none(),
                          st.booleans(), st.sampled_from(["python", "mini"]))
near_valid = st.fixed_dictionaries(
    {"text": st.text(max_size=400)},
    optional={"source": st.dictionaries(st.sampled_from(["site", "url", "extra"]),
                                        st.none() | st.text(max_size=30), max_size=3),
              "options": st.dictionaries(st.sampled_from(["corpus", "top_k", "max_claims"]),
                                         option_values, max_size=3)})


@PROPERTY
@given(body=json_values)
async def test_any_json_body_to_verify(shared: TestClient, body: Any) -> None:
    await assert_documented(shared, "POST", "/v1/verify", "VerifyResponse",
                            data=json.dumps(body).encode(), headers=JSON)


@PROPERTY
@given(body=near_valid)
async def test_near_valid_verify_bodies(shared: TestClient, body: dict[str, Any]) -> None:
    await assert_documented(shared, "POST", "/v1/verify", "VerifyResponse",
                            data=orjson.dumps(body), headers=JSON)


@PROPERTY
@given(text=st.text(max_size=2000))
async def test_any_text_as_answer(shared: TestClient, text: str) -> None:
    status = await assert_documented(shared, "POST", "/v1/verify", "VerifyResponse",
                                     data=orjson.dumps({"text": text}), headers=JSON)
    assert status == 200


@PROPERTY
@given(text=st.text(max_size=500))
async def test_any_text_as_body(shared: TestClient, text: str) -> None:
    await assert_documented(shared, "POST", "/v1/verify", "VerifyResponse",
                            data=text.encode("utf-8", "surrogatepass"), headers=JSON)


@PROPERTY
@given(data=st.binary(max_size=2000),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8",
                                     "application/problem+json", "text/plain",
                                     "application/octet-stream"]))
async def test_any_bytes_as_body(shared: TestClient, data: bytes, content_type: str) -> None:
    await assert_documented(shared, "POST", "/v1/verify", "VerifyResponse",
                            data=data, headers={"Content-Type": content_type})


query_params = st.lists(
    st.tuples(st.sampled_from(["q", "k", "corpus", "x", "Q", "q[]", ""]),
              st.text(max_size=60) | st.integers(-10, 100).map(str)),
    max_size=5)


@PROPERTY
@given(params=query_params)
async def test_any_search_parameters(shared: TestClient, params: list[tuple[str, str]]) -> None:
    await assert_documented(shared, "GET", "/v1/search?" + urlencode(params), "SearchResponse")


@PROPERTY
@given(raw=st.text(max_size=200))
async def test_any_raw_query_string(shared: TestClient, raw: str) -> None:
    # percent-encode only what HTTP cannot carry, keep &, =, % and + as typed
    query = quote(raw, safe="&=%+;,/?:@!$'()*[]~-._")
    await assert_documented(shared, "GET", "/v1/search?" + query, "SearchResponse")
