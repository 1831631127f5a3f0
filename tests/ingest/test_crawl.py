"""Crawling a local aiohttp server that serves real python3-doc pages."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from docvouch.engine import Engine
from docvouch.ingest.builder import IngestOptions
from docvouch.ingest.crawl import CrawlOptions, ingest_crawl
from docvouch.ingest.fetch import FetchPolicy
from docvouch.store import current_index

pytestmark = pytest.mark.timeout(240)
SERVED = ("library/statistics.html", "library/os.path.html", "library/json.html")


class DocsSite:
    """A real HTTP server on 127.0.0.1 in a thread: python3-doc pages, robots.txt, sitemap."""

    def __init__(self, docs: Path) -> None:
        self.docs = docs
        self.requests: list[tuple[str, str]] = []  # (path, If-None-Match)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/sitemap.xml", self._sitemap)
        app.router.add_get("/docs/start.html", self._start)
        app.router.add_get("/docs/private/secret.html", self._page_of("secret"))
        app.router.add_get("/elsewhere/page.html", self._page_of("elsewhere"))
        app.router.add_get("/docs/{path:.*}", self._doc)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> DocsSite:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _log(self, request: web.Request) -> None:
        self.requests.append((request.path, request.headers.get("If-None-Match", "")))

    async def _robots(self, request: web.Request) -> web.Response:
        self._log(request)
        return web.Response(text="User-agent: *\nDisallow: /docs/private/\n")

    async def _sitemap(self, request: web.Request) -> web.Response:
        self._log(request)
        urls = "".join(f"<url><loc>{self.url('/docs/' + p)}</loc></url>" for p in SERVED[:2])
        return web.Response(text='<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/'
                                 f'schemas/sitemap/0.9">{urls}</urlset>',
                            content_type="application/xml")

    async def _start(self, request: web.Request) -> web.Response:
        self._log(request)
        links = "".join(f'<li><a href="{p}">{p}</a></li>' for p in SERVED)
        body = (f"<html><body><div role='main'><h1>Start</h1><p>Index of the served pages."
                f"</p><ul>{links}<li><a href='private/secret.html'>secret</a></li>"
                f"<li><a href='/elsewhere/page.html'>elsewhere</a></li></ul></div></body></html>")
        return web.Response(text=body, content_type="text/html")

    def _page_of(self, word: str) -> Any:
        async def page(request: web.Request) -> web.Response:
            self._log(request)
            return web.Response(text=f"<html><body><main><p>{word}</p></main></body></html>",
                                content_type="text/html")

        return page

    async def _doc(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        path = request.match_info["path"]
        if path not in SERVED:
            raise web.HTTPNotFound()
        return web.FileResponse(self.docs / path)  # ETag, Last-Modified and 304 included


@pytest.fixture
def site(python_docs: Path) -> Iterator[DocsSite]:
    running = DocsSite(python_docs).start()
    yield running
    running.stop()


def options(**kw: Any) -> IngestOptions:
    return IngestOptions(name="crawled", jobs=1, **kw)


def crawl(site: DocsSite, start: str, **kw: Any) -> CrawlOptions:
    return CrawlOptions(start=site.url(start), rate=0, max_pages=kw.pop("max_pages", 100),
                        policy=FetchPolicy(allow_private=True), **kw)


def test_crawl_follows_links_in_scope_and_honours_robots(site: DocsSite, tmp_path: Path) -> None:
    summary = ingest_crawl(tmp_path, crawl(site, "/docs/start.html"), options())
    fetched = {path for path, _ in site.requests}
    assert {"/docs/library/statistics.html", "/docs/library/json.html"} <= fetched
    assert "/docs/private/secret.html" not in fetched  # robots.txt
    assert "/elsewhere/page.html" not in fetched  # out of scope
    reasons = {s["key"]: s["reason"] for s in summary["skipped"]}
    assert reasons[site.url("/docs/private/secret.html")] == "disallowed by robots.txt"
    engine = Engine.open(current_index(tmp_path, "crawled"))
    fmean = next(s for s in engine.index.symbols if s.name == "statistics.fmean")
    assert engine.index.passage(fmean.passage).url == \
        site.url("/docs/library/statistics.html#statistics.fmean")
    claim = engine.verify("`statistics.fmean` was added in Python 3.6.")["claims"][0]
    assert claim["verdict"] == "contradicted"


def test_recrawl_sends_conditional_requests_and_reuses_pages(site: DocsSite,
                                                             tmp_path: Path) -> None:
    ingest_crawl(tmp_path, crawl(site, "/docs/start.html"), options())
    site.requests.clear()
    again = ingest_crawl(tmp_path, crawl(site, "/docs/start.html"), options())
    conditional = {path for path, etag in site.requests if etag}
    assert "/docs/library/statistics.html" in conditional
    assert again["reused"] >= len(SERVED) and again["removed"] == 0
    engine = Engine.open(current_index(tmp_path, "crawled"))
    assert any(s.name == "json.dumps" for s in engine.index.symbols)


def test_a_sitemap_lists_exactly_what_is_crawled(site: DocsSite, tmp_path: Path) -> None:
    summary = ingest_crawl(tmp_path, crawl(site, "/sitemap.xml"), options())
    fetched = {path for path, _ in site.requests if path.startswith("/docs/")}
    assert fetched == {"/docs/" + p for p in SERVED[:2]}
    assert summary["pages"] == 2


def test_the_page_cap_stops_the_crawl(site: DocsSite, tmp_path: Path) -> None:
    summary = ingest_crawl(tmp_path, crawl(site, "/docs/start.html", max_pages=2), options())
    assert summary["pages"] == 2


def test_without_allow_private_a_local_site_is_refused(site: DocsSite, tmp_path: Path) -> None:
    from docvouch.cli import main

    code = main(["--home", str(tmp_path), "ingest", site.url("/docs/start.html"),
                 "--name", "nope"])
    assert code == 2
    assert site.requests == []
