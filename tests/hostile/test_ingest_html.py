"""Hostile HTML in ingestion (reliability plan X1-X8), through the real extractor processes.

Every case runs in the isolated extractor pool the ingest uses: a child process under
``RLIMIT_AS`` with a per-page deadline, so a page that blows up costs that page only.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from docvouch.ingest.hostile import Limits
from docvouch.ingest.isolation import ExtractorPool

LIMITS = Limits(memory_bytes=1024 * 1024 * 1024, page_timeout_s=30)
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractorPool]:
    with ExtractorPool(workers=2, limits=LIMITS) as extractors:
        yield extractors


def run(pool: ExtractorPool, data: bytes, *, encoding: str = "",
        limits: Limits = LIMITS) -> dict[str, Any]:
    job = {"key": "page.html", "url": "https://h.example/page.html", "corpus": "h",
           "format": "html", "data": data, "encoding": encoding, "limits": limits.to_dict()}
    return pool.submit(job).result(timeout=120)


def all_text(reply: dict[str, Any]) -> str:
    passages = reply["result"]["passages"]
    return "\n".join(p["title"] + "\n" + p["text"] + "\n" + "\n".join(p["code"])
                     for p in passages)


def nested(depth: int) -> bytes:
    return (f"<html><body><div role='main'><p>before the nest</p>{'<div>' * depth}"
            f"deep inside{'</div>' * depth}<p>after the nest</p></div></body></html>").encode()


# --- X1: nesting depth -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [250, 254])
def test_x1_nesting_up_to_the_limit_keeps_all_text(pool: ExtractorPool, depth: int) -> None:
    # role=main adds one level: the innermost text sits at depth + 1 below <body>
    text = all_text(run(pool, nested(depth)))
    assert "before the nest" in text and "deep inside" in text and "after the nest" in text


@pytest.mark.parametrize("depth", [255, 300, 10_000, 100_000])
def test_x1_nesting_past_the_limit_is_flagged_and_rejected(pool: ExtractorPool,
                                                           depth: int) -> None:
    started = time.perf_counter()
    reply = run(pool, nested(depth))
    assert "Excessive depth" in reply["rejected"]
    assert time.perf_counter() - started < 5  # < 1 s of parsing, plus the process round trip


def test_x8_decoy_before_deep_real_text_is_not_indexed(pool: ExtractorPool) -> None:
    page = (b"<html><body><p>Decoy: the widget API is deprecated.</p>" + b"<div>" * 300
            + b"The real documentation of the widget API." + b"</div>" * 300 + b"</body></html>")
    reply = run(pool, page)
    assert "result" not in reply and "Excessive depth" in reply["rejected"]


# --- X2 / X3: size and element caps --------------------------------------------------------


def test_x2_oversized_page_is_rejected_before_parsing(pool: ExtractorPool) -> None:
    page = b"<html><body>" + b"<p>filler text</p>" * (35 * MiB // 18) + b"</body></html>"
    started = time.perf_counter()
    reply = run(pool, page)
    assert "over the" in reply["rejected"] and "not parsed" in reply["rejected"]
    assert time.perf_counter() - started < 5


def test_x2_five_megabyte_page_is_extracted_quickly(pool: ExtractorPool) -> None:
    paragraph = b"<p>" + b"documentation words about widgets and gadgets " * 100 + b"</p>"
    page = b"<html><body><div role='main'><h1>Big</h1>" + paragraph * (
        (5 * MiB - 200) // len(paragraph)) + b"</div></body></html>"
    assert len(page) <= 5 * MiB
    started = time.perf_counter()
    reply = run(pool, page)
    assert "result" in reply, reply.get("rejected")
    assert time.perf_counter() - started < 5  # under the RLIMIT_AS of the child


def test_x3_more_than_50000_elements_is_rejected(pool: ExtractorPool) -> None:
    page = b"<html><body><div role='main'>" + b"<span>x</span>" * 50_001 + b"</div></body></html>"
    assert "more than 50,000 elements" in run(pool, page)["rejected"]


# --- X4: decompression bombs ---------------------------------------------------------------


def test_x4_gzip_bomb_is_rejected(pool: ExtractorPool) -> None:
    bomb = gzip.compress(b"<p>" + b"A" * (200 * MiB) + b"</p>", compresslevel=9)
    assert len(bomb) < 300_000
    reply = run(pool, bomb, encoding="gzip")
    assert "expands past" in reply["rejected"]


def test_x4_too_many_gzip_members_are_rejected(pool: ExtractorPool) -> None:
    member = gzip.compress(b"<p>x</p>")
    reply = run(pool, member * 1001, encoding="gzip")
    assert "members" in reply["rejected"]


def test_x4_brotli_and_zstd_bombs_are_rejected(pool: ExtractorPool) -> None:
    brotli = pytest.importorskip("brotli")
    zstd = pytest.importorskip("backports.zstd")
    payload = b"<p>" + b"B" * (200 * MiB) + b"</p>"
    assert "expands past" in run(pool, brotli.compress(payload, quality=5),
                                 encoding="br")["rejected"]
    assert "expands past" in run(pool, zstd.compress(payload), encoding="zstd")["rejected"]


def test_x4_gzip_page_within_the_cap_is_read(pool: ExtractorPool) -> None:
    page = gzip.compress(b"<html><body><main><h1>Zipped</h1><p>Compressed documentation "
                         b"pages are read after a bounded decompression.</p></main></body></html>")
    assert "bounded decompression" in all_text(run(pool, page, encoding="gzip"))


# --- X5 / X6: entities and external resources ------------------------------------------------


def test_x5_entity_expansion_is_off(pool: ExtractorPool) -> None:
    laughs = "".join(f'<!ENTITY lol{i} "{"&lol" + str(i - 1) + ";" * 1}' * 1 + "&lol"
                     f'{i - 1};' * 9 + '">' for i in range(1, 10))
    big = "X" * 100_000
    page = (f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY lol0 "lol">{laughs}'
            f'<!ENTITY big "{big}">]><html><body><main><p>Start &lol9; '
            + "&big;" * 10_000 + " end of the entity test page.</p></main></body></html>")
    started = time.perf_counter()
    reply = run(pool, page.encode())
    assert time.perf_counter() - started < 5
    text = all_text(reply) if "result" in reply else ""
    assert "lollollol" not in text and big[:1000] not in text


@contextlib.asynccontextmanager
async def counting_listener() -> AsyncIterator[tuple[int, list[int]]]:
    """A loopback port and the list its connections are counted in (closed at once)."""
    seen: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(1)
        writer.close()

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await server.wait_closed()


def test_x6_external_entities_are_never_fetched(pool: ExtractorPool) -> None:
    async def scenario() -> tuple[dict[str, Any], int]:
        async with counting_listener() as (port, seen):
            page = (f'<?xml version="1.0"?><!DOCTYPE html SYSTEM "http://127.0.0.1:{port}/dtd" ['
                    f'<!ENTITY file SYSTEM "file:///etc/passwd">'
                    f'<!ENTITY remote SYSTEM "http://127.0.0.1:{port}/entity">]>'
                    f'<html><body><main><p>File: &file; Remote: &remote; and some ordinary text '
                    f'about widgets.</p><img src="http://127.0.0.1:{port}/img.png"></main></body>'
                    f'</html>').encode()
            reply = await asyncio.to_thread(run, pool, page)
            await asyncio.sleep(0.2)
            return reply, len(seen)

    reply, connections = asyncio.run(scenario())
    assert connections == 0
    assert "root:" not in all_text(reply)


# --- X7: bytes that are not clean text ---------------------------------------------------------


@pytest.mark.parametrize("page", [
    b"<html><body><main><h1>Bad bytes</h1><p>caf\xe9 \xff\xfe broken utf-8 text here</p>"
    b"</main></body></html>",
    b"<html><body><main><h1>Controls</h1><p>nul\x00 bell\x07 escape\x1b text \xef\xbf\xbe"
    b" here</p></main></body></html>",
    b"\xef\xbb\xbf<html><head><meta charset='iso-8859-1'></head><body><main><h1>BOM wins</h1>"
    b"<p>caf\xc3\xa9 au lait, BOM says UTF-8</p></main></body></html>",
    "<html><body><main><h1>UTF-16</h1><p>sixteen-bit text with a BOM</p></main></body>"
    "</html>".encode("utf-16"),
])
def test_x7_invalid_bytes_give_clean_text(pool: ExtractorPool, page: bytes) -> None:
    reply = run(pool, page)
    assert "result" in reply, reply
    text = all_text(reply)
    assert not any(ord(c) < 32 and c not in "\n\t" for c in text)
    assert "\ufffe" not in text


def test_x7_bom_beats_meta_charset(pool: ExtractorPool) -> None:
    page = (b"\xef\xbb\xbf<html><head><meta charset='iso-8859-1'></head><body><main>"
            b"<h1>Caf\xc3\xa9</h1><p>caf\xc3\xa9 au lait</p></main></body></html>")
    assert "café au lait" in all_text(run(pool, page))


# --- the isolation itself -----------------------------------------------------------------------


def test_a_page_over_the_deadline_costs_that_page_only(pool: ExtractorPool) -> None:
    slow = Limits(page_timeout_s=0.01, memory_bytes=LIMITS.memory_bytes)
    with ExtractorPool(workers=1, limits=slow) as tight:
        page = b"<html><body><main>" + b"<p>text</p>" * 40_000 + b"</main></body></html>"
        reply = run(tight, page)
        assert "took longer than" in reply["rejected"]
        assert tight.restarts == 1
    assert "result" in run(pool, nested(10))  # the shared pool is untouched


def test_a_page_past_the_memory_cap_costs_that_page_only() -> None:
    """Under RLIMIT_AS libxml2 fails its allocations: the page is rejected, the pool goes on."""
    cramped = Limits(memory_bytes=80 * MiB)
    with ExtractorPool(workers=1, limits=cramped) as tight:
        page = b"<html><body><main><h1>t</h1>" + (b"<p>" + b"words " * 18 + b"</p>") * 45_000 \
            + b"</main></body></html>"
        reply = run(tight, page, limits=cramped)
        assert "result" not in reply and reply["rejected"]
        small = b"<html><body><main><h1>Small</h1><p>fits in memory</p></main></body></html>"
        assert "fits in memory" in all_text(run(tight, small, limits=cramped))


def test_x6_sitemap_xml_expands_no_entities_and_fetches_nothing() -> None:
    from docvouch.ingest.hostile import parse_xml

    async def scenario() -> tuple[str, int]:
        async with counting_listener() as (port, seen):
            sitemap = (f'<?xml version="1.0"?><!DOCTYPE urlset SYSTEM "http://127.0.0.1:{port}/d" ['
                       f'<!ENTITY file SYSTEM "file:///etc/passwd">'
                       f'<!ENTITY remote SYSTEM "http://127.0.0.1:{port}/e">]>'
                       f'<urlset><url><loc>https://d.example/&file;&remote;</loc></url></urlset>')
            root = await asyncio.to_thread(parse_xml, sitemap.encode(), limits=LIMITS)
            await asyncio.sleep(0.1)
            return "".join(root.itertext()), len(seen)

    text, connections = asyncio.run(scenario())
    assert connections == 0 and "root:" not in text
    assert text.startswith("https://d.example/")
