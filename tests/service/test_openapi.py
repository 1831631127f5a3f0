"""GET /openapi.json describes the API the handlers serve; real responses validate against it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from docvouch.app import ROUTES

pytestmark = pytest.mark.asyncio(loop_scope="session")
DOC_URI = "urn:docvouch:openapi"


@pytest.fixture(scope="module")
def spec_holder() -> dict[str, Any]:
    return {}


async def spec(shared: TestClient, holder: dict[str, Any]) -> dict[str, Any]:
    if "doc" not in holder:
        async with shared.get("/openapi.json") as response:
            assert response.status == 200
            holder["doc"] = await response.json()
    return holder["doc"]


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose $refs resolve inside the OpenAPI document."""
    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
    if "$ref" in schema:  # "#/components/..." is relative to the document
        schema = {"$ref": DOC_URI + schema["$ref"]}
    return Draft202012Validator(schema, registry=registry)


def response_schema(doc: dict[str, Any], path: str, method: str, status: int,
                    media: str) -> dict[str, Any]:
    responses = doc["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} {status} is not documented"
    return responses[str(status)]["content"][media]["schema"]


async def check(shared: TestClient, holder: dict[str, Any], method: str, path: str, *,
                template: str | None = None, **kwargs: Any) -> Any:
    """Make a real request and validate its body against the documented response."""
    doc = await spec(shared, holder)
    async with shared.request(method, path, **kwargs) as response:
        body = await response.json(content_type=None)
        media = response.headers["Content-Type"].split(";")[0]
        schema = response_schema(doc, template or path.split("?")[0], method, response.status,
                                 media)
        errors = sorted(validator(doc, schema).iter_errors(body), key=str)
        assert not errors, [e.message for e in errors]
        return response.status


async def test_document_is_openapi_31_with_valid_schemas(shared: TestClient, spec_holder) -> None:
    doc = await spec(shared, spec_holder)
    assert doc["openapi"] == "3.1.0"
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_every_route_is_documented_and_nothing_more(shared: TestClient,
                                                          spec_holder) -> None:
    doc = await spec(shared, spec_holder)
    served = {(path.replace("/static/{name}", ""), method.lower()) for method, path, _h, _a
              in ROUTES if path != "/static/{name}"}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented


async def test_verify_response_matches(shared: TestClient, spec_holder) -> None:
    text = "Use `os.path.isdirectory(p)`.\n\n```python\nimport json\njson.dumps(x, indnt=2)\n```"
    assert await check(shared, spec_holder, "POST", "/v1/verify", json={"text": text}) == 200


async def test_verify_request_schema_agrees_with_the_handler(shared: TestClient,
                                                             spec_holder) -> None:
    doc = await spec(shared, spec_holder)
    request_schema = validator(doc, doc["paths"]["/v1/verify"]["post"]["requestBody"]
                               ["content"]["application/json"]["schema"])
    bodies = [{"text": "x"}, {"text": "x", "options": {"top_k": 5, "max_claims": 3}},
              {"text": "x", "source": {"site": "chatgpt", "url": None}},
              {"text": 1}, {"txt": "x"}, {"text": "x", "options": {"top_k": 0}},
              {"text": "x", "options": {"max_claims": 201}}, {"text": "x", "options": {"k": 1}},
              {"text": "x", "options": {"corpus": ""}}, {"text": "a" * 100_001}]
    for body in bodies:
        async with shared.post("/v1/verify", json=body) as response:
            accepted = response.status == 200
        assert accepted == request_schema.is_valid(body), body


@pytest.mark.parametrize(("method", "path", "template", "kwargs"), [
    ("GET", "/v1/search?q=json+dumps&k=2", None, {}),
    ("GET", "/v1/corpus", None, {}),
    ("GET", "/healthz", None, {}),
    ("GET", "/readyz", None, {}),
    ("POST", "/v1/admin/reload", None, {}),
    ("GET", "/v1/search", None, {}),
    ("GET", "/v1/search?q=x&corpus=nope", None, {}),
    ("POST", "/v1/verify", None, {"data": b"{", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/v1/verify", None, {"data": b"x", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/v1/verify", None, {"json": {"text": 5}}),
    ("POST", "/v1/verify", None, {"data": io.BytesIO(b"{" + b" " * (2 << 20)),
                                  "headers": {"Content-Type": "application/json"}}),
])
async def test_responses_match(shared: TestClient, spec_holder, method: str, path: str,
                               template: str | None, kwargs: dict[str, Any]) -> None:
    await check(shared, spec_holder, method, path, template=template, **kwargs)
