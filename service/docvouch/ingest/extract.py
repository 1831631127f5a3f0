"""One extraction job → one page result; what an extractor process runs for each page.

A job is a plain dict (it crosses a process boundary)::

    {"key": "library/os.html", "url": "https://…/library/os.html", "corpus": "python-docs",
     "version": "3.11", "format": "html" | "markdown" | "rst" | "text", "data": b"…",
     "encoding": "" | "gzip" | "br" | "zstd", "want_links": False,
     "command_prefixes": ["git"], "limits": {...}}

The result is ``{"title", "passages", "symbols", "links"}`` with symbol ``passage`` numbers
local to the page; :class:`~docvouch.ingest.hostile.PageRejected` says why a page is skipped.
"""

from __future__ import annotations

from typing import Any

from docvouch.ingest.hostile import Limits, PageRejected
from docvouch.ingest.sections import PageInfo

FORMATS = ("html", "markdown", "rst", "text")


def extract_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the extractor for the job's format."""
    limits = Limits(**job.get("limits", {}))
    page = PageInfo(key=job["key"], url=job["url"], corpus=job["corpus"],
                    version=job.get("version", ""))
    fmt = job.get("format", "html")
    data = job["data"]
    if fmt == "html":
        from docvouch.ingest.html import extract_html

        return extract_html(data, page, limits=limits, encoding=job.get("encoding", ""),
                            want_links=bool(job.get("want_links")),
                            command_prefixes=tuple(job.get("command_prefixes", ())))
    if fmt in ("markdown", "rst", "text"):
        from docvouch.ingest.text_docs import extract_text_doc

        return extract_text_doc(data, page, fmt=fmt, limits=limits,
                                encoding=job.get("encoding", ""))
    raise PageRejected(f"unknown page format {fmt!r}")
