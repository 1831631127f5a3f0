"""``docvouch ingest``: bring your own documentation in as a corpus.

::

    docvouch ingest ./site/_build/html --base-url https://docs.example.com/ --name example
    docvouch ingest ./docs --name handbook                # Markdown / reST / text
    docvouch ingest https://docs.example.com/sitemap.xml --name example   # crawl
    docvouch ingest --python-package requests             # an installed package's API
    docvouch ingest --pack python-docs [--source DIR]     # a curated pack

``register(subparsers)`` adds the subcommand; ``build_pack`` and ``pack_lines`` serve
``docvouch corpus build NAME`` and ``docvouch corpus list``. Progress goes to stderr, the
summary to stdout (``--format json`` for scripts).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import orjson

from docvouch.errors import InputError
from docvouch.ingest.progress import StreamReporter, render_summary
from docvouch.store import DEFAULT_CORPUS, resolve_home

EXAMPLES = """examples:
  docvouch ingest ./site/_build/html --base-url https://docs.example.com/ --name example
  docvouch ingest ./docs --name handbook                # Markdown / reST / text
  docvouch ingest https://docs.example.com/sitemap.xml --name example   # crawl
  docvouch ingest --python-package requests             # an installed package's API
  docvouch ingest --pack python-docs [--source DIR]     # a curated pack

Progress goes to stderr, the summary to stdout (--format json for scripts)."""
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Defaults of docvouch.ingest.hostile.Limits, repeated so that building the parser (every
# `docvouch` command) does not import lxml and trafilatura; a test keeps them equal.
MAX_PAGE_BYTES = 5 * 1024 * 1024
PAGE_TIMEOUT_S = 60.0
MEMORY_MB = 1536


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``ingest`` subcommand to the ``docvouch`` argument parser."""
    parser = subparsers.add_parser(
        "ingest", help="build a corpus from an HTML or Markdown folder, a site, or a package",
        description="Build (or incrementally rebuild) a corpus and publish it atomically; a "
                    "running server picks it up on SIGHUP or POST /v1/admin/reload.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    parser.add_argument("source", nargs="?",
                        help="a folder (HTML site, or Markdown/reST/text) or an http(s) URL "
                             "(a start page, or a sitemap.xml) to crawl")
    what = parser.add_argument_group("what to ingest")
    what.add_argument("--python-package", metavar="DIST",
                      help="an installed Python package, by introspection")
    what.add_argument("--pack", metavar="NAME", help="a curated pack from corpus/packs")
    what.add_argument("--source", dest="pack_source", metavar="DIR",
                      help="with --pack: the pack's documentation folder, if not installed "
                           "where the pack expects it")
    naming = parser.add_argument_group("naming and links")
    naming.add_argument("--name", help="corpus name (default: from the source)")
    naming.add_argument("--version", dest="doc_version", default="",
                        help="version of the documented software, recorded on each passage")
    naming.add_argument("--title", default="", help="a human title for the corpus")
    naming.add_argument("--base-url", default="",
                        help="public URL of the folder's root: passages link there, not to files")
    naming.add_argument("--url-style", choices=("html", "dirhtml", "strip", "source"),
                        default="", help="how a file maps under --base-url (default: html for "
                                         "HTML, source for Markdown/reST/text)")
    naming.add_argument("--command-prefix", action="append", default=[], metavar="PROG",
                        help="manual pages PROG-SUB(1) document `PROG SUB` (e.g. git)")
    pages = parser.add_argument_group("pages")
    pages.add_argument("--input-format", dest="doc_format", default="auto",
                       choices=("auto", "html", "markdown", "rst", "text"),
                       help="page format for a folder (auto: HTML if there is any)")
    pages.add_argument("--include", action="append", default=[], metavar="GLOB",
                       help="only files matching (relative path), repeatable")
    pages.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                       help="skip files matching (relative path), repeatable")
    pages.add_argument("--full", action="store_true",
                       help="re-extract every page (default: only changed pages)")
    pages.add_argument("--jobs", type=int, default=0, help="extractor processes (default: "
                                                           "one per core, at most 4)")
    pages.add_argument("--max-page-bytes", type=int, default=MAX_PAGE_BYTES,
                       help="skip pages larger than this, before parsing")
    pages.add_argument("--page-timeout", type=float, default=PAGE_TIMEOUT_S,
                       metavar="SECONDS", help="time one page may take to extract")
    pages.add_argument("--memory-mb", type=int, default=MEMORY_MB,
                       help="address-space cap of each extractor process")
    crawl = parser.add_argument_group("crawling (source is a URL)")
    crawl.add_argument("--scope", default="", help="URL prefix to stay under (default: the "
                                                   "start page's folder, or the site)")
    crawl.add_argument("--max-pages", type=int, default=2000)
    crawl.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    crawl.add_argument("--rate", type=float, default=4.0, help="requests per second")
    crawl.add_argument("--allow-private", action="store_true",
                       help="allow loopback, private and link-local addresses (refused by "
                            "default: an ingest must not reach into this machine's network)")
    crawl.add_argument("--ignore-robots", action="store_true",
                       help="do not read robots.txt (only for sites you own)")
    parser.add_argument("--format", dest="output", default="text", choices=("text", "json"),
                        help="summary format on stdout")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Entry point of ``docvouch ingest``."""
    home = resolve_home(getattr(args, "home", None))
    reporter = StreamReporter()
    chosen = [x for x in (args.source, args.python_package, args.pack) if x]
    if len(chosen) != 1:
        raise InputError("give exactly one of: a folder or URL, --python-package, --pack")
    if args.name and not _NAME_RE.match(args.name):
        raise InputError(f"corpus name {args.name!r}: use letters, digits, '.', '_' and '-'")
    if args.python_package:
        from docvouch.ingest.packages import ingest_package

        summary = ingest_package(home, args.python_package, corpus=args.name or "",
                                 base_url=args.base_url, reporter=reporter)
    elif args.pack:
        summary = build_pack(home, args.pack, source=args.pack_source, reporter=reporter,
                             full=args.full, jobs=args.jobs)
    elif re.match(r"^https?://", args.source, re.I):
        summary = _crawl(home, args, reporter)
    else:
        summary = _folder(home, args, reporter)
    _print_summary(summary, args.output)
    return 0


def _options(args: argparse.Namespace, name: str) -> Any:
    from docvouch.ingest.builder import IngestOptions
    from docvouch.ingest.hostile import Limits

    limits = Limits(max_page_bytes=args.max_page_bytes, page_timeout_s=args.page_timeout,
                    memory_bytes=args.memory_mb * 2**20)
    return IngestOptions(name=name, version=args.doc_version, title=args.title,
                         base_url=args.base_url, url_style=args.url_style,
                         fmt=args.doc_format, include=tuple(args.include),
                         exclude=tuple(args.exclude),
                         command_prefixes=tuple(args.command_prefix), limits=limits,
                         jobs=args.jobs, full=args.full)


def _folder(home: Path, args: argparse.Namespace, reporter: StreamReporter) -> dict[str, Any]:
    from docvouch.ingest.builder import ingest_folder

    folder = Path(args.source).expanduser()
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder (for a site, give an http(s) URL)")
    name = args.name or _safe_name(folder.resolve().name)
    return ingest_folder(home, folder, _options(args, name), reporter=reporter)


def _crawl(home: Path, args: argparse.Namespace, reporter: StreamReporter) -> dict[str, Any]:
    from yarl import URL

    from docvouch.ingest.crawl import CrawlOptions, ingest_crawl
    from docvouch.ingest.fetch import FetchPolicy, FetchRefused, check_url

    policy = FetchPolicy(allow_private=args.allow_private, max_bytes=args.max_page_bytes)
    try:
        check_url(args.source, policy)
    except FetchRefused as exc:
        raise InputError(exc.reason) from exc
    name = args.name or _safe_name(URL(args.source).host or "site")
    crawl = CrawlOptions(start=args.source, scope=args.scope, max_pages=args.max_pages,
                         concurrency=max(1, args.concurrency), rate=args.rate,
                         robots=not args.ignore_robots, policy=policy)
    return ingest_crawl(home, crawl, _options(args, name), reporter=reporter)


def _safe_name(raw: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-._")[:64]
    return name or "docs"


def build_pack(home: Path, name: str, *, source: str | None = None,
               reporter: StreamReporter | None = None, full: bool = False,
               jobs: int = 0) -> dict[str, Any]:
    """Build corpus pack ``name`` (``docvouch corpus build NAME``); the summary as a dict."""
    from docvouch.ingest import packs
    from docvouch.ingest.builder import IngestOptions, ingest_folder

    reporter = reporter or StreamReporter()
    pack = packs.find_pack(name, home)
    if pack.kind == "python-stdlib":
        from docvouch.store import ensure_default_index

        if pack.name != DEFAULT_CORPUS:
            raise packs.PackError(f"pack {pack.name}: python-stdlib packs build the "
                                  f"{DEFAULT_CORPUS!r} corpus only")
        path = ensure_default_index(home, progress=reporter.message, force=True)
        return {"name": pack.name, "path": str(path), "built": True}
    if pack.kind == "python-package":
        from docvouch.ingest.packages import ingest_package

        return ingest_package(home, pack.source.get("package", pack.name), corpus=pack.name,
                              base_url=pack.source.get("base_url", ""), reporter=reporter)
    extra = {"pack": pack.name, "licence": pack.licence, "homepage": pack.homepage}
    if pack.kind == "crawl":
        from docvouch.ingest.crawl import CrawlOptions, ingest_crawl

        if not pack.source.get("url"):
            raise packs.PackError(f"pack {pack.name}: a crawl pack needs source.url")
        crawl = CrawlOptions(start=pack.source["url"], scope=pack.source.get("scope", ""),
                             max_pages=int(pack.source.get("max_pages", 2000)))
        return ingest_crawl(home, crawl, IngestOptions(
            name=pack.name, version=packs.pack_version(pack), title=pack.title, full=full,
            jobs=jobs, extra=extra), reporter=reporter)
    folder, package = packs.locate_source(pack, source)
    version = packs.pack_version(pack, package)
    extra["debian_package"] = package
    options = IngestOptions(
        name=pack.name, version=version, title=pack.title, source=f"pack {pack.name}",
        kind=pack.kind, base_url=pack.source.get("base_url", "").format(version=version),
        url_style=pack.source.get("url_style", ""),
        fmt="html" if pack.kind == "html-folder" else "auto",
        include=tuple(pack.source.get("include", ())),
        exclude=tuple(pack.source.get("exclude", ())),
        command_prefixes=tuple(pack.source.get("command_prefixes", ())),
        jobs=jobs, full=full, extra=extra)
    reporter.message(f"building pack {pack.name} {version} from {folder}")
    return ingest_folder(home, folder, options, reporter=reporter)


def pack_lines(home: Path, built: set[str]) -> list[str]:
    """`docvouch corpus list`'s lines about the available packs."""
    from docvouch.ingest import packs

    found = packs.available_packs(home)
    if not found:
        return []
    lines = ["", "packs (docvouch corpus build NAME):"]
    for pack in found.values():
        missing = pack.name not in built and _docs_missing(pack)
        state = "built" if pack.name in built else "not built"
        lines.append(f"  {pack.name:<16} {state:<10} {pack.title}")
        if missing and pack.obtain.get("how"):
            lines.append(f"  {'':<16} {'':<10} needs: {pack.obtain['how']}")
    return lines


def _docs_missing(pack: Any) -> bool:
    """Whether a folder pack's documentation is absent here (other kinds need nothing)."""
    from docvouch.ingest import packs

    if pack.kind not in ("html-folder", "text-folder"):
        return False
    try:
        packs.locate_source(pack)
    except packs.PackError:
        return True
    return False


def _print_summary(summary: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        sys.stdout.buffer.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    elif "passages" in summary:
        print(render_summary(summary))
        print("  a running `docvouch serve` picks it up on SIGHUP or "
              "POST /v1/admin/reload")
    else:
        print(f"corpus {summary['name']} built at {summary['path']}")
    sys.stdout.flush()
