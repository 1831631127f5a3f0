"""The result cache: bounded by the memory its results really take, and byte-exact."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from pathlib import Path

import orjson

from docvouch.cache import EncodedResult, ResultCache, cache_key
from docvouch.engine import Engine

LABELLED = Path(__file__).resolve().parents[2] / "bench" / "labelled" / "answers"


def test_a_response_body_is_the_result_with_this_requests_took_ms(engine: Engine) -> None:
    result = engine.verify((LABELLED / "a01_os_path_isdir.md").read_text())
    encoded = EncodedResult.of(result)
    assert orjson.loads(encoded.response_body(12.5)) == {**result, "took_ms": 12.5}
    assert encoded.summary == result["summary"]
    assert encoded.engine_ms == result["took_ms"]
    assert orjson.loads(EncodedResult.of({}).response_body(1.0)) == {"took_ms": 1.0}


def test_the_bound_is_the_memory_the_results_take(engine: Engine) -> None:
    # Real results of every labelled answer, stored under many keys: the cache's own count
    # must be close to what the interpreter really allocated for it (decoded dicts took
    # about 3.4 times their serialised size, so a 64 MiB cache held over 200 MiB).
    results = [engine.verify(path.read_text()) for path in sorted(LABELLED.glob("*.md"))[:20]]
    encoded = [EncodedResult.of(r) for r in results]
    cache = ResultCache(max_entries=100_000, max_bytes=8 * 2**20)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    n = 0
    while cache.bytes < cache.max_bytes - 300_000:
        fresh = EncodedResult.of(results[n % len(results)])  # a new copy, as a request makes
        cache.put(cache_key("build", f"answer {n}"), fresh)
        n += 1
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert n > 100
    assert cache.bytes <= cache.max_bytes
    assert used <= 1.25 * cache.bytes, (used, cache.bytes)
    # and it evicts: past the bound the oldest go, the count stays under the bound
    for m in range(n, n + 200):
        cache.put(cache_key("build", f"answer {m}"), encoded[m % len(encoded)])
    assert cache.bytes <= cache.max_bytes
    assert cache.get(cache_key("build", "answer 0")) is None


async def test_concurrent_identical_requests_share_one_encoded_result() -> None:
    cache = ResultCache(max_entries=10, max_bytes=2**20)
    calls = 0

    async def compute() -> EncodedResult:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return EncodedResult.of({"summary": {"claims": 1}, "claims": [], "took_ms": 3.0})

    key = cache_key("b", "same text")
    (first, s1), (second, s2) = await asyncio.gather(cache.get_or_compute(key, compute),
                                                    cache.get_or_compute(key, compute))
    assert calls == 1 and {s1, s2} == {"miss", "joined"} and first is second
    again, state = await cache.get_or_compute(key, compute)
    assert state == "hit" and again is first and calls == 1
