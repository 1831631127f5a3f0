"""The v1 API on a real server: verify, search, corpus, health, metrics and the cache."""

from __future__ import annotations

import unicodedata

import pytest
from aiohttp.test_utils import TestClient

from docvouch import accel
from docvouch.engine import normalise_text

pytestmark = pytest.mark.asyncio(loop_scope="session")

HALLUCINATION = "Use `os.path.isdirectory(p)` to check whether a path is a directory."


async def verify(client: TestClient, text: str, **body: object) -> dict:
    async with client.post("/v1/verify", json={"text": text, **body}) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        return await response.json()


async def test_verify_returns_the_design_shape_with_a_contradiction_and_suggestion(
        shared: TestClient) -> None:
    result = await verify(shared, HALLUCINATION)
    assert set(result) == {"score", "summary", "claims", "truncated", "corpus", "took_ms"}
    assert result["corpus"]["name"] == "python"
    (claim,) = result["claims"]
    assert claim["verdict"] == "contradicted"
    assert claim["suggestion"] == "os.path.isdir"
    assert claim["symbols"][0] == {"name": "os.path.isdirectory", "status": "unknown",
                                   "suggestion": "os.path.isdir"} | claim["symbols"][0]
    assert all(e["url"].startswith("https://") for e in claim["evidence"])
    assert result["summary"]["contradicted"] == 1


async def test_verify_matches_the_engine_called_directly(shared: TestClient, engine) -> None:
    text = "Pretty-print JSON with `json.dumps(data, indent=2)`.\n\nSort with `sorted(xs)`."
    got = await verify(shared, text)
    want = engine.verify(text)
    got.pop("took_ms"), want.pop("took_ms")
    assert got == want


async def test_spans_index_the_normalised_text(shared: TestClient) -> None:
    text = "Intro line.\r\n\r\nUse `os.path.isdirectory(p)` here — café.\r\n"
    result = await verify(shared, text)
    normal = normalise_text(text)
    for claim in result["claims"]:
        start, end = claim["span"]
        assert normal[start:end].split() == claim["text"].split()


async def test_nfc_and_nfd_spellings_get_the_same_verdicts(shared: TestClient) -> None:
    text = "Le résumé: use `os.path.isdirectory(p)` for a café folder."
    nfc = await verify(shared, unicodedata.normalize("NFC", text))
    nfd = await verify(shared, unicodedata.normalize("NFD", text))
    assert [c["verdict"] for c in nfc["claims"]] == [c["verdict"] for c in nfd["claims"]]


async def test_options_pick_the_corpus(shared: TestClient) -> None:
    result = await verify(shared, "Call `widgets.frobnicate(level=3)` to frobnicate a widget.",
                          options={"corpus": "mini"})
    assert result["corpus"] == {"name": "mini", "version": "1.0", "passages": 2}
    assert result["claims"][0]["verdict"] in ("supported", "partial")


async def test_max_claims_option_truncates(shared: TestClient) -> None:
    text = " ".join(f"Sentence number {i} talks about `os.getcwd`." for i in range(20))
    result = await verify(shared, text, options={"max_claims": 3, "top_k": 2})
    assert result["summary"]["claims"] == 3
    assert result["truncated"] is True


async def test_source_is_informational_and_never_fetched(shared: TestClient) -> None:
    # The URL points at a port nobody listens on: a fetch would fail or hang, a 200 means none.
    result = await verify(shared, HALLUCINATION,
                          source={"site": "chatgpt", "url": "http://127.0.0.1:9/never-fetched",
                                  "title": "extra members are ignored"})
    assert result["summary"]["claims"] == 1


async def test_an_empty_answer_has_no_claims_and_no_score(shared: TestClient) -> None:
    result = await verify(shared, "   ")
    assert result["score"] is None
    assert result["claims"] == []


async def test_repeating_an_answer_is_served_from_the_cache(shared: TestClient) -> None:
    text = "Cache probe: `os.path.isdirectory(x)` checks a directory."
    async with shared.post("/v1/verify", json={"text": text}) as first:
        body_first = await first.json()
        assert first.headers["X-DocVouch-Cache"] == "miss"
    async with shared.post("/v1/verify", json={"text": text}) as second:
        body_second = await second.json()
        assert second.headers["X-DocVouch-Cache"] == "hit"
    assert body_first["claims"] == body_second["claims"]
    # CRLF vs LF normalise to the same text: the same cache entry.
    async with shared.post("/v1/verify", json={"text": text.replace(" ", " ") + "\r\n"}) as r:
        assert r.status == 200
    # Different options are a different result.
    async with shared.post("/v1/verify", json={"text": text, "options": {"top_k": 3}}) as third:
        assert third.headers["X-DocVouch-Cache"] == "miss"


async def test_search_ranks_passages(shared: TestClient) -> None:
    async with shared.get("/v1/search", params={"q": "json dumps indent", "k": "3"}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["k"] == 3 and len(body["results"]) == 3
    assert any("json" in hit["id"] for hit in body["results"])
    assert body["corpus"]["name"] == "python"


async def test_search_in_another_corpus(shared: TestClient) -> None:
    async with shared.get("/v1/search", params={"q": "frobnicate", "corpus": "mini"}) as response:
        body = await response.json()
    assert body["results"][0]["id"] == "mini:frobnicate"


@pytest.mark.parametrize("query", [" ", "\x0b", "\u3000\t", "the of"])
async def test_a_query_of_blanks_or_stop_words_finds_nothing(shared: TestClient,
                                                             query: str) -> None:
    # The schema asks only for one character; a query without a searchable word is valid
    # (schemathesis sent "\x0b") and has no results, while an empty one is refused.
    async with shared.get("/v1/search", params={"q": query}) as response:
        assert response.status == 200
        assert (await response.json())["results"] == []
    async with shared.get("/v1/search", params={"q": ""}) as response:
        assert response.status == 422
        assert (await response.json())["field"] == "q"


async def test_corpus_lists_every_loaded_corpus_with_its_build(shared: TestClient) -> None:
    async with shared.get("/v1/corpus") as response:
        body = await response.json()
    assert body["default"] == "python"
    names = {c["name"]: c for c in body["corpora"]}
    assert set(names) == {"mini", "python"}
    assert names["python"]["passages"] > 10_000
    assert names["mini"]["build"] and names["python"]["index_bytes"] > 0
    assert body["unavailable"] == []


async def test_healthz_and_readyz(shared: TestClient) -> None:
    async with shared.get("/healthz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"
    async with shared.get("/readyz") as response:
        body = await response.json()
    assert body["status"] == "ready"
    assert body["workers"]["alive"] == 2
    assert set(body["corpora"]) == {"mini", "python"}


async def test_metrics_count_requests_verdicts_cache_and_index(shared: TestClient) -> None:
    await verify(shared, HALLUCINATION + " (metrics)")
    async with shared.get("/v1/verify") as response:  # a wrong method on a known path
        assert response.status == 405
    async with shared.get("/no/such/path") as response:
        assert response.status == 404
    async with shared.get("/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    assert 'docvouch_http_requests_total{method="POST",route="/v1/verify",status="200"}' in text
    assert 'docvouch_http_requests_total{method="GET",route="/v1/verify",status="405"}' in text
    assert 'docvouch_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert "docvouch_http_request_duration_seconds_bucket" in text
    assert 'docvouch_verdicts_total{verdict="contradicted"}' in text
    assert 'docvouch_cache_requests_total{result="hit"}' in text
    assert 'docvouch_index_passages{corpus="python"}' in text
    assert 'docvouch_index_bytes{corpus="mini"}' in text
    assert "docvouch_workers_alive 2.0" in text
    # Each worker says how it imported the engine (this suite's own way: CI runs compiled)
    assert f'docvouch_workers_by_engine{{engine="{accel.state().label}"}} 2.0' in text


async def test_unknown_paths_are_counted_under_one_label(shared: TestClient) -> None:
    for path in ("/nope-1", "/nope-2"):
        async with shared.get(path) as response:
            assert response.status == 404
    async with shared.get("/metrics") as response:
        text = await response.text()
    assert "/nope-1" not in text
    assert 'route="unmatched"' in text


async def test_every_response_carries_a_request_id_and_hardening_headers(
        shared: TestClient) -> None:
    async with shared.get("/healthz", headers={"X-Request-ID": "trace-abc.1"}) as response:
        assert response.headers["X-Request-ID"] == "trace-abc.1"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    async with shared.get("/healthz", headers={"X-Request-ID": "bad id!"}) as response:
        assert response.headers["X-Request-ID"] != "bad id!"
        assert len(response.headers["X-Request-ID"]) == 32
