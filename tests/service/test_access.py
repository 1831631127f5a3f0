"""API keys, admin keys and CORS, each on an app built with the settings under test.

Most apps here use a home with no corpus: they start at once with no worker, which is
enough to see what the access layer lets through (``/metrics`` needs a key but no index).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp.http_exceptions import LineTooLong
from structlog.testing import capture_logs

from docvouch.auth import KeyRing, hash_key
from docvouch.logs import redact_parser_errors
from docvouch.settings import SettingsError, build_settings

API_KEY = "dv_test_api_key_0123456789"
ADMIN_KEY = "dv_test_admin_key_9876543210"
KEYS = {"api_keys": (hash_key(API_KEY),), "admin_keys": (hash_key(ADMIN_KEY),)}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_loopback_without_keys_needs_no_key(make_client, empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False)
    async with client.get("/metrics") as response:
        assert response.status == 200


@pytest.mark.parametrize(("headers", "detail_part"), [
    ({}, "needs an API key"),
    (bearer("wrong-key"), "not valid"),
    (bearer("k" * 4_096), "must be 'Bearer <key>'"),
    ({"Authorization": f"Basic {API_KEY}"}, "must be 'Bearer <key>'"),
    ({"Authorization": "Bearer"}, "must be 'Bearer <key>'"),
])
async def test_api_routes_refuse_missing_or_wrong_keys(make_client, empty_home: Path,
                                                       headers: dict[str, str],
                                                       detail_part: str) -> None:
    client = await make_client(home=empty_home, ready=False, **KEYS)
    for method, path in (("GET", "/metrics"), ("GET", "/v1/corpus"), ("POST", "/v1/verify"),
                         ("GET", "/v1/search?q=x")):
        async with client.request(method, path, headers=headers) as response:
            problem = await response.json(content_type=None)
            assert response.status == 401, (path, problem)
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="docvouch"'
            assert problem["code"] == "unauthorized"
            assert detail_part in problem["detail"]


async def test_a_header_over_the_parser_limit_never_reaches_the_app(make_client,
                                                                     empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, **KEYS)
    with capture_logs() as events:
        async with client.get("/metrics", headers=bearer("k" * 10_240)) as response:
            assert response.status == 400  # aiohttp's parser (max_field_size 8190)
    assert not [e for e in events if e.get("event") == "request"]


def test_parser_error_logs_do_not_quote_the_request() -> None:
    try:
        raise LineTooLong(b"Bearer " + API_KEY.encode(), "8190")
    except LineTooLong as exc:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1,
                                   "Error handling request from %s", ("127.0.0.1",),
                                   (type(exc), exc, None))
    assert redact_parser_errors(record)
    assert record.exc_info is None
    assert API_KEY not in record.getMessage()
    assert "LineTooLong" in record.getMessage()


async def test_a_key_in_the_query_string_is_refused_even_when_valid(make_client,
                                                                    empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, **KEYS)
    async with client.get("/metrics", params={"api_key": API_KEY}) as response:
        problem = await response.json(content_type=None)
    assert response.status == 401
    assert "never in the URL" in problem["detail"]


async def test_valid_api_and_admin_keys_pass(make_client, empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, **KEYS)
    for key in (API_KEY, ADMIN_KEY):
        async with client.get("/metrics", headers=bearer(key)) as response:
            assert response.status == 200
    # Past the key check, the empty home answers "not ready", not 401.
    async with client.get("/v1/corpus", headers=bearer(API_KEY)) as response:
        problem = await response.json(content_type=None)
        assert (response.status, problem["code"]) == (503, "not_ready")
        # 2 s while the load task runs, 30 s once it has failed: an empty home fails fast
        assert response.headers["Retry-After"] in ("2", "30")


async def test_public_routes_need_no_key(make_client, empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, **KEYS)
    for path in ("/healthz", "/openapi.json", "/", "/static/app.js"):
        async with client.get(path) as response:
            assert response.status == 200, path
    async with client.get("/readyz") as response:
        assert response.status == 503  # public, and honest: no index here


async def test_admin_reload_needs_the_admin_key(make_client, empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, **KEYS)
    async with client.post("/v1/admin/reload") as response:
        assert response.status == 401
    async with client.post("/v1/admin/reload", headers=bearer(API_KEY)) as response:
        assert response.status == 403
        assert (await response.json(content_type=None))["code"] == "forbidden"
    async with client.post("/v1/admin/reload", headers=bearer(ADMIN_KEY)) as response:
        # Authorised; the empty home has nothing to load, which the problem says.
        assert response.status == 503
        assert (await response.json(content_type=None))["code"] == "index_missing"


async def test_admin_routes_are_off_when_only_api_keys_exist(make_client,
                                                             empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, api_keys=KEYS["api_keys"])
    async with client.post("/v1/admin/reload", headers=bearer(API_KEY)) as response:
        problem = await response.json(content_type=None)
    assert response.status == 403
    assert "no admin_keys" in problem["detail"]


async def test_open_local_mode_refuses_admin_calls_from_foreign_pages(make_client,
                                                                       empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False)
    headers = {"Origin": "https://evil.example"}
    async with client.post("/v1/admin/reload", headers=headers) as response:
        assert response.status == 403
    async with client.post("/v1/admin/reload") as response:  # curl, or the CLI: no Origin
        assert response.status == 503


async def test_keys_never_appear_in_logs(make_client, empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, **KEYS)
    with capture_logs() as events:
        for key in (API_KEY, "wrong-" + API_KEY):
            async with client.get("/metrics", headers=bearer(key)):
                pass
        async with client.get("/metrics", params={"api_key": API_KEY}):
            pass
    assert len([e for e in events if e["event"] == "request"]) == 3
    assert API_KEY not in repr(events)


def test_keys_are_compared_against_every_digest() -> None:
    ring = KeyRing((hash_key("a"), hash_key("b")))
    assert ring.matches("a") and ring.matches("b")
    assert not ring.matches("c") and not ring.matches("")
    assert not KeyRing(())


def test_binding_off_loopback_requires_api_keys() -> None:
    with pytest.raises(SettingsError, match="api_keys"):
        build_settings({"host": "0.0.0.0"})
    assert build_settings({"host": "0.0.0.0", **KEYS}).keys_required
    assert not build_settings({"host": "::1"}).keys_required


def test_raw_keys_are_refused_as_settings_and_never_echoed() -> None:
    with pytest.raises(SettingsError) as info:
        build_settings({"api_keys": ("my-secret-key",)})
    assert "my-secret-key" not in str(info.value)


def test_a_cors_wildcard_is_refused_with_keys() -> None:
    with pytest.raises(SettingsError, match="cannot be combined with API keys"):
        build_settings({"cors_origins": ("*",), **KEYS})
    with pytest.raises(SettingsError, match="not an origin"):
        build_settings({"cors_origins": ("https://example.org/",)})


# --- CORS ------------------------------------------------------------------------------

ORIGIN = "https://docs.example.org"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


async def test_cors_is_off_by_default(make_client, empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False)
    async with client.get("/healthz", headers={"Origin": ORIGIN}) as response:
        assert not [h for h in response.headers if h.startswith("Access-Control-")]
    async with client.options("/v1/verify", headers=PREFLIGHT) as response:
        assert response.status == 405
        assert not [h for h in response.headers if h.startswith("Access-Control-")]


async def test_cors_allows_exactly_the_configured_origins(make_client, empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, cors_origins=(ORIGIN,), **KEYS)
    async with client.options("/v1/verify", headers=PREFLIGHT) as response:
        assert response.status == 204
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        allowed = {h.strip().lower() for h in
                   response.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"authorization", "content-type", "x-request-id"} <= allowed
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Origin" in response.headers.getall("Vary")
    # The allow header also goes on errors, so the page can read the problem.
    async with client.get("/metrics", headers={"Origin": ORIGIN}) as response:
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    for other in ("https://docs.example.org.evil.example", "http://docs.example.org", "null"):
        headers = {**PREFLIGHT, "Origin": other}
        async with client.options("/v1/verify", headers=headers) as response:
            assert response.status == 405
            assert "Access-Control-Allow-Origin" not in response.headers
        async with client.get("/healthz", headers={"Origin": other}) as response:
            assert "Access-Control-Allow-Origin" not in response.headers


async def test_preflight_for_a_method_the_route_lacks_is_refused(make_client,
                                                                 empty_home: Path) -> None:
    client = await make_client(home=empty_home, ready=False, cors_origins=(ORIGIN,))
    headers = {**PREFLIGHT, "Access-Control-Request-Method": "DELETE"}
    async with client.options("/v1/verify", headers=headers) as response:
        assert response.status == 405
