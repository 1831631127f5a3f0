"""Crawl a documentation site from a start page or a sitemap, politely and within bounds.

* **Scope**: only URLs under the start prefix (``https://docs.example.com/en/latest/`` for a
  start page ``…/en/latest/index.html``; the site root for a sitemap), or ``--scope``.
* **robots.txt** is honoured for our user agent (``Crawl-delay`` too); an unreachable
  ``robots.txt`` (5xx, network error) means "crawl nothing", as RFC 9309 asks.
* **Load**: at most ``concurrency`` requests in flight and ``rate`` requests a second.
* **Re-crawl**: pages the previous build fetched are requested with ``If-None-Match`` /
  ``If-Modified-Since``; a ``304`` (or identical bytes) reuses the previous extraction.
* **Caps**: ``max_pages`` pages, ``FetchPolicy.max_bytes`` a page, and every address rule
  of :mod:`docvouch.ingest.fetch`.

Pages are extracted in the isolated extractor pool as they arrive; their links (found by the
extractor, never by parsing in this process) feed the queue.
"""

from __future__ import annotations

import asyncio
import time
import urllib.robotparser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yarl import URL

from docvouch.errors import CorpusBuildError, InputError
from docvouch.ingest.builder import (
    BuildState,
    IngestOptions,
    apply_reply,
    make_job,
    publish_records,
)
from docvouch.ingest.fetch import Fetcher, FetchFailed, FetchPolicy, FetchRefused
from docvouch.ingest.hostile import Limits, PageRejected, decompress, parse_xml
from docvouch.ingest.incremental import PageCache, PageRecord, fingerprint, sha256
from docvouch.ingest.isolation import ExtractorPool
from docvouch.ingest.progress import Reporter
from docvouch.store import build_lock

HTML_TYPES = ("text/html", "application/xhtml+xml")
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
MAX_SITEMAPS = 50
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit


@dataclass
class CrawlOptions:
    """Where to start and how hard to go."""

    start: str
    scope: str = ""
    sitemap: bool | None = None  # None: a start URL ending in .xml is a sitemap
    max_pages: int = 2000
    concurrency: int = 4
    rate: float = 4.0  # requests per second
    robots: bool = True
    policy: FetchPolicy = field(default_factory=FetchPolicy)

    def is_sitemap(self) -> bool:
        if self.sitemap is not None:
            return self.sitemap
        return URL(self.start).path.endswith((".xml", ".xml.gz"))

    def scope_prefix(self) -> str:
        if self.scope:
            return self.scope
        start = URL(self.start)
        if self.is_sitemap():
            return str(start.origin()) + "/"
        path = start.path if start.path.endswith("/") else start.path.rsplit("/", 1)[0] + "/"
        return str(start.origin()) + path


class _RateLimiter:
    """Spaces request starts at least ``interval`` seconds apart."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class Crawler:
    """One crawl: queue, robots rules, fetcher and extractor pool."""

    def __init__(self, options: CrawlOptions, ingest: IngestOptions, state: BuildState,
                 pool: ExtractorPool, reporter: Reporter, fetcher: Fetcher) -> None:
        self.options = options
        self.ingest = ingest
        self.state = state
        self.pool = pool
        self.reporter = reporter
        self.fetcher = fetcher
        self.prefix = options.scope_prefix()
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.seen: set[str] = set()
        self.robots: urllib.robotparser.RobotFileParser | None = None
        self.limiter = _RateLimiter(1.0 / options.rate if options.rate > 0 else 0.0)
        self.follow_links = True

    def in_scope(self, url: str) -> bool:
        return url.startswith(self.prefix)

    def enqueue(self, url: str) -> None:
        url = str(URL(url).with_fragment(None))
        if url in self.seen or not self.in_scope(url) or len(self.seen) >= self.options.max_pages:
            return
        self.seen.add(url)
        self.queue.put_nowait(url)

    async def run(self) -> None:
        await self._load_robots()
        if self.options.is_sitemap():
            self.follow_links = False
            for url in await self._sitemap_urls(self.options.start):
                self.enqueue(url)
        else:
            self.enqueue(self.options.start)
        if self.queue.empty():
            raise InputError(f"nothing to crawl in scope {self.prefix}")
        self.reporter.start(None, "crawling")
        workers = [asyncio.create_task(self._worker()) for _ in range(self.options.concurrency)]
        try:
            await self.queue.join()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self.reporter.close()

    async def _worker(self) -> None:
        while True:
            url = await self.queue.get()
            try:
                await self._page(url)
            finally:
                self.queue.task_done()
                self.reporter.advance(note=url)

    # --- robots.txt and sitemaps ----------------------------------------------------------

    async def _load_robots(self) -> None:
        if not self.options.robots:
            return
        robots_url = str(URL(self.options.start).origin()) + "/robots.txt"
        parser = urllib.robotparser.RobotFileParser(robots_url)
        try:
            got = await self.fetcher.fetch(robots_url, accept="text/plain")
            body = decompress(got.body, limits=Limits(), declared=got.content_encoding)
            parser.parse(body.decode("utf-8", "replace").splitlines())
        except FetchFailed as exc:
            if exc.reason.startswith("HTTP 4"):
                parser.allow_all = True  # no robots.txt: everything may be crawled
            else:
                parser.disallow_all = True  # unreachable: assume complete disallow
                self.reporter.message(f"robots.txt unreachable ({exc.reason}): crawling nothing")
        except (FetchRefused, PageRejected) as exc:
            parser.disallow_all = True
            self.reporter.message(f"robots.txt refused ({getattr(exc, 'reason', exc)})")
        self.robots = parser
        delay = parser.crawl_delay(self.options.policy.user_agent)
        if delay:
            self.limiter.interval = max(self.limiter.interval, float(delay))

    def allowed(self, url: str) -> bool:
        return self.robots is None or self.robots.can_fetch(self.options.policy.user_agent, url)

    async def _sitemap_urls(self, start: str) -> list[str]:
        """Page URLs of a sitemap (or sitemap index, followed up to MAX_SITEMAPS files)."""
        pending, pages, fetched = [start], [], 0
        limits = Limits(max_page_bytes=MAX_SITEMAP_BYTES, max_elements=200_000)
        while pending and fetched < MAX_SITEMAPS:
            url = pending.pop(0)
            fetched += 1
            if not self.allowed(url):
                continue
            try:
                got = await self.fetcher.fetch(url, accept="application/xml,text/xml")
                root = parse_xml(decompress(got.body, limits=limits,
                                            declared=got.content_encoding), limits=limits)
            except (FetchFailed, FetchRefused, PageRejected) as exc:
                self.state.records.append(PageRecord(key=url, url=url,
                                                     rejected=f"sitemap: {exc}"))
                continue
            for loc in root.iter(f"{SITEMAP_NS}loc", "loc"):
                target = (loc.text or "").strip()
                if not target:
                    continue
                parent = loc.getparent()
                is_index = parent is not None and parent.tag.endswith("sitemap")
                (pending if is_index else pages).append(target)
        return pages

    # --- one page ------------------------------------------------------------------------

    async def _page(self, url: str) -> None:
        record = PageRecord(key=url, url=url)
        previous = self.state.cache.records.get(url)
        if not self.allowed(url):
            record.rejected = "disallowed by robots.txt"
            self.state.records.append(record)
            return
        await self.limiter.wait()
        try:
            got = await self.fetcher.fetch(
                url, etag=previous.etag if previous else "",
                last_modified=previous.last_modified if previous else "")
        except (FetchRefused, FetchFailed) as exc:
            record.rejected = exc.reason
            self.state.records.append(record)
            return
        if got.not_modified and previous is not None:
            self._reuse(previous)
            return
        final = str(URL(got.url).with_fragment(None))
        if final != url and not self.in_scope(final):
            record.rejected = f"redirected out of scope to {final}"
            self.state.records.append(record)
            return
        record.url, record.etag, record.last_modified = final, got.etag, got.last_modified
        mime = got.content_type.split(";", 1)[0].strip().lower()
        if mime and mime not in HTML_TYPES:
            record.rejected = f"not HTML ({mime})"
            self.state.records.append(record)
            return
        record.sha256, record.size = sha256(got.body), len(got.body)
        if previous is not None and previous.sha256 == record.sha256 and previous.result:
            previous.etag, previous.last_modified = got.etag, got.last_modified
            self._reuse(previous)
            return
        await self._extract(record, got.body, got.content_encoding)

    def _reuse(self, previous: PageRecord) -> None:
        self.state.records.append(previous)
        self.state.reused += 1
        if self.follow_links:
            for link in previous.links:
                self.enqueue(link)

    async def _extract(self, record: PageRecord, body: bytes, encoding: str) -> None:
        job = make_job(self.ingest, key=record.key, url=record.url, fmt="html", data=body,
                       encoding=encoding, want_links=True)
        reply = await asyncio.wrap_future(self.pool.submit(job))
        links = reply.get("result", {}).get("links", [])
        record.links = [link for link in links if self.in_scope(link)]
        self.state.records.append(apply_reply(record, reply))
        self.state.extracted += 1
        if self.follow_links:
            for link in record.links:
                self.enqueue(link)


def ingest_crawl(home: Path, options: CrawlOptions, ingest: IngestOptions, *,
                 reporter: Reporter | None = None, resolver: Any = None) -> dict[str, Any]:
    """Crawl, extract and publish one corpus; the summary as a dict."""
    reporter = reporter or Reporter()
    ingest.kind, ingest.source = "crawl", ingest.source or options.start
    ingest.base_url = ingest.base_url or options.scope_prefix()
    with build_lock(home, ingest.name):
        cache = PageCache(reason="--full was given") if ingest.full else \
            PageCache.load(home, ingest.name, fingerprint(ingest.settings()))
        state = BuildState(cache=cache)
        with ExtractorPool(workers=ingest.jobs, limits=ingest.limits) as pool:
            asyncio.run(_crawl(options, ingest, state, pool, reporter, resolver))
        if not state.records:
            raise CorpusBuildError(f"the crawl of {options.start} fetched nothing")
        return publish_records(home, ingest, state, reporter=reporter)


async def _crawl(options: CrawlOptions, ingest: IngestOptions, state: BuildState,
                 pool: ExtractorPool, reporter: Reporter, resolver: Any) -> None:
    async with Fetcher(options.policy, resolver=resolver,
                       limit=max(1, options.concurrency)) as fetcher:
        await Crawler(options, ingest, state, pool, reporter, fetcher).run()
