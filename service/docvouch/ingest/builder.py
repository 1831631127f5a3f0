"""Pages → extracted records → one index, published atomically; incremental by content hash.

::

    pages ─▶ hash ─▶ unchanged? reuse the previous record
                  └▶ changed  ─▶ ExtractorPool (child processes, RLIMIT_AS, deadline)
    records (sorted by key) ─▶ passages + symbols ─▶ build_index(tmp) + page manifest
                            ─▶ store.publish: ``current`` swapped in one rename

A build that fails, or finds no text at all, publishes nothing: the previous index keeps
serving. A running server picks the new build up on ``SIGHUP`` or ``POST /v1/admin/reload``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docvouch.errors import CorpusBuildError
from docvouch.index import build_index
from docvouch.ingest.hostile import Limits
from docvouch.ingest.incremental import (
    PageCache,
    PageRecord,
    fingerprint,
    sha256,
    write_manifest,
)
from docvouch.ingest.isolation import ExtractorPool
from docvouch.ingest.local import LocalPage, scan_folder
from docvouch.ingest.progress import Reporter
from docvouch.passages import Passage, Symbol
from docvouch.store import build_lock, publish


@dataclass
class IngestOptions:
    """What to call the corpus and how its pages are turned into passages."""

    name: str
    version: str = ""
    title: str = ""
    source: str = ""  # a folder, a URL, a package: shown by `corpus list` and /v1/corpus
    kind: str = "html"  # folder | crawl | python-package (recorded in the manifest)
    base_url: str = ""
    url_style: str = ""
    fmt: str = "auto"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    command_prefixes: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    jobs: int = 0  # extractor processes; 0 = up to 4, one per core
    full: bool = False  # ignore the previous build's records
    extra: dict[str, Any] = field(default_factory=dict)  # licence, homepage, pack name

    def settings(self) -> dict[str, Any]:
        """What besides the bytes shapes a page's passages (the incremental fingerprint)."""
        return {"name": self.name, "version": self.version, "base_url": self.base_url,
                "url_style": self.url_style, "fmt": self.fmt,
                "command_prefixes": list(self.command_prefixes),
                "limits": {k: v for k, v in self.limits.to_dict().items()
                           if k in ("max_page_bytes", "max_elements", "max_depth")}}


@dataclass
class BuildState:
    """Records gathered so far and the counters the summary reports."""

    cache: PageCache
    records: list[PageRecord] = field(default_factory=list)
    extracted: int = 0
    reused: int = 0
    started: float = field(default_factory=time.perf_counter)


def make_job(options: IngestOptions, *, key: str, url: str, fmt: str, data: bytes,
             encoding: str = "", want_links: bool = False) -> dict[str, Any]:
    """The dict an extractor process receives for one page."""
    return {"key": key, "url": url, "corpus": options.name, "version": options.version,
            "format": fmt, "data": data, "encoding": encoding, "want_links": want_links,
            "command_prefixes": list(options.command_prefixes),
            "limits": options.limits.to_dict()}


def apply_reply(record: PageRecord, reply: dict[str, Any]) -> PageRecord:
    """Fill a record with an extractor's reply (a result, or the reason it was skipped)."""
    if "result" in reply:
        result = reply["result"]
        record.result = {k: result[k] for k in ("title", "passages", "symbols")}
    else:
        record.rejected = reply.get("rejected", "skipped")
    return record


def ingest_folder(home: Path, folder: Path, options: IngestOptions, *,
                  reporter: Reporter | None = None) -> dict[str, Any]:
    """Ingest a documentation folder (HTML site, or Markdown / reST / text) as one corpus."""
    reporter = reporter or Reporter()
    pages = scan_folder(folder, base_url=options.base_url, url_style=options.url_style,
                        fmt=options.fmt, include=options.include, exclude=options.exclude)
    if not pages:
        raise CorpusBuildError(f"no documentation pages found under {folder} "
                               f"(format {options.fmt}; see --include / --format)")
    options.source = options.source or str(folder)
    with build_lock(home, options.name):
        state = BuildState(cache=_previous(home, options))
        with ExtractorPool(workers=options.jobs, limits=options.limits) as pool:
            extract_pages(pool, pages, options, state, reporter)
        return publish_records(home, options, state, reporter=reporter)


def _previous(home: Path, options: IngestOptions) -> PageCache:
    if options.full:
        return PageCache(reason="--full was given")
    return PageCache.load(home, options.name, fingerprint(options.settings()))


def extract_pages(pool: ExtractorPool, pages: list[LocalPage], options: IngestOptions,
                  state: BuildState, reporter: Reporter) -> None:
    """Hash each page, reuse unchanged ones, extract the rest with at most a window in flight."""
    reporter.start(len(pages), "extracting")
    window = pool.size * 4  # bounded: pages are read only shortly before they are extracted
    in_flight: dict[Future[dict[str, Any]], PageRecord] = {}

    def drain(block_until: int) -> None:
        while len(in_flight) > block_until:
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                record = in_flight.pop(future)
                state.records.append(apply_reply(record, future.result()))
                state.extracted += 1
                reporter.advance(note=record.key)

    for page in pages:
        record = PageRecord(key=page.key, url=page.url)
        data = _read(page, options.limits, record)
        if data is None:
            state.records.append(record)
            reporter.advance(note=page.key)
            continue
        record.sha256, record.size = sha256(data), len(data)
        previous = state.cache.reusable(page.key, record.sha256)
        if previous is not None:
            state.records.append(previous)
            state.reused += 1
            reporter.advance(note=page.key)
            continue
        job = make_job(options, key=page.key, url=page.url, fmt=page.format, data=data,
                       encoding=page.encoding)
        in_flight[pool.submit(job)] = record
        drain(window)
    drain(0)
    reporter.close()


def _read(page: LocalPage, limits: Limits, record: PageRecord) -> bytes | None:
    """A page's bytes, or None (and the reason on the record) when it is not read."""
    try:
        size = page.path.stat().st_size
        if size > limits.max_page_bytes:  # the cap is applied before reading, let alone parsing
            record.rejected = (f"file of {size:,} bytes is over the "
                               f"{limits.max_page_bytes:,}-byte cap (not read)")
            return None
        return page.path.read_bytes()
    except OSError as exc:
        record.rejected = f"cannot read: {exc.strerror or exc}"
        return None


def assemble(records: Iterable[PageRecord]) -> tuple[list[Passage], list[Symbol]]:
    """Every page's passages in key order; symbols re-pointed, first definition kept."""
    passages: list[Passage] = []
    symbols: list[Symbol] = []
    seen: set[str] = set()
    for record in sorted(records, key=lambda r: r.key):
        if record.result is None:
            continue
        offset = len(passages)
        passages.extend(Passage.from_dict(p) for p in record.result["passages"])
        for raw in record.result["symbols"]:
            if raw["name"] in seen:
                continue
            seen.add(raw["name"])
            symbol = Symbol.from_dict(raw)
            symbol.passage += offset
            symbols.append(symbol)
    return passages, symbols


def publish_records(home: Path, options: IngestOptions, state: BuildState, *,
                    reporter: Reporter, removed: int | None = None) -> dict[str, Any]:
    """Build the index from ``state.records`` and publish it; the summary as a dict."""
    passages, symbols = assemble(state.records)
    skipped = [{"key": r.key, "reason": r.rejected} for r in
               sorted(state.records, key=lambda r: r.key) if r.result is None]
    if not passages:
        reasons = "; ".join(f"{s['key']}: {s['reason']}" for s in skipped[:5])
        raise CorpusBuildError(f"no text extracted from {len(state.records)} pages; nothing "
                               f"published ({reasons or 'no pages'})")
    keys = {r.key for r in state.records}
    gone = removed if removed is not None else \
        len([k for k in state.cache.records if k not in keys])
    summary: dict[str, Any] = {
        "name": options.name, "version": options.version, "pages": len(state.records),
        "extracted": state.extracted, "reused": state.reused, "removed": gone,
        "skipped": skipped, "passages": len(passages), "symbols": len(symbols),
        "full_reason": state.cache.reason,
    }
    corpus = {"name": options.name, "version": options.version,
              "title": options.title or options.name, "source": options.source,
              "kind": options.kind, "base_url": options.base_url,
              "pages": len(state.records), "skipped_pages": len(skipped), **options.extra}
    settings_fp = fingerprint(options.settings())
    reporter.message(f"indexing {len(passages):,} passages and {len(symbols):,} symbols")

    def build(tmp: Path) -> None:
        build_index(tmp, passages, symbols, corpus=corpus, progress=reporter.message)
        write_manifest(tmp, sorted(state.records, key=lambda r: r.key),
                       settings_fingerprint=settings_fp, summary=summary)

    final = publish(home, options.name, build)
    summary["seconds"] = round(time.perf_counter() - state.started, 2)
    files = [p for p in final.rglob("*") if p.is_file()]
    summary["index_bytes"] = sum(p.stat().st_size for p in files
                                 if not p.name.startswith("ingest"))
    summary["manifest_bytes"] = sum(p.stat().st_size for p in files
                                    if p.name.startswith("ingest"))
    summary["path"] = str(final)
    return summary
