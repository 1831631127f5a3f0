"""Incremental builds: a manifest of page hashes (with their extraction) beside each index.

Every build directory of an ingested corpus holds, next to the index files::

    ingest.json         extractor version, settings fingerprint, summary, pages file checksum
    ingest-pages.jsonl  one record per page: key, URL, sha256, size, ETag / Last-Modified,
                        and either its extraction (title, passages, symbols) or why it was
                        skipped

The next build of the same corpus reads the *published* build's manifest: a page whose
bytes hash the same (or that a server answered ``304 Not Modified`` for) is reused without
re-extraction, a changed page is extracted again, and a page that is gone is simply not
carried over. Any doubt (another extractor version or settings, a checksum mismatch, a
truncated file) means a full extraction, never a wrong reuse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from docvouch.errors import DocVouchError
from docvouch.store import current_index

EXTRACTOR_VERSION = 1  # bump whenever extraction output changes for the same input
META_FILE = "ingest.json"
PAGES_FILE = "ingest-pages.jsonl"


def fingerprint(settings: dict[str, Any]) -> str:
    """A digest of everything besides the page bytes that shapes a page's passages."""
    blob = orjson.dumps({"extractor": EXTRACTOR_VERSION, **settings},
                        option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(slots=True)
class PageRecord:
    """What one build knew about one page."""

    key: str
    url: str
    sha256: str = ""
    size: int = 0
    etag: str = ""
    last_modified: str = ""
    result: dict[str, Any] | None = None  # {"title", "passages", "symbols"}
    rejected: str = ""
    links: list[str] = field(default_factory=list)  # in-scope links, for re-crawls

    def to_json(self) -> bytes:
        return orjson.dumps({k: getattr(self, k) for k in self.__slots__})  # type: ignore[attr-defined]

    @classmethod
    def from_json(cls, raw: bytes) -> PageRecord:
        return cls(**orjson.loads(raw))


@dataclass
class PageCache:
    """The previous build's page records, by key (empty when nothing is reusable)."""

    records: dict[str, PageRecord] = field(default_factory=dict)
    reason: str = ""  # why nothing is reused, when that is the case

    @classmethod
    def load(cls, home: Path, name: str, settings_fingerprint: str) -> PageCache:
        """The published build's records, if they were made with the same settings."""
        try:
            directory = current_index(home, name)
        except DocVouchError:
            return cls(reason="first build")
        try:
            meta = orjson.loads((directory / META_FILE).read_bytes())
            blob = (directory / PAGES_FILE).read_bytes()
        except (OSError, orjson.JSONDecodeError):
            return cls(reason="the previous build has no page manifest")
        if meta.get("fingerprint") != settings_fingerprint:
            return cls(reason="extractor or settings changed since the previous build")
        if meta.get("pages_sha256") != sha256(blob):
            return cls(reason="the previous page manifest fails its checksum")
        records = {}
        try:
            for line in blob.splitlines():
                record = PageRecord.from_json(line)
                records[record.key] = record
        except (orjson.JSONDecodeError, TypeError):
            return cls(reason="the previous page manifest is unreadable")
        return cls(records=records)

    def reusable(self, key: str, digest: str) -> PageRecord | None:
        """The previous record of ``key`` if its bytes hashed to ``digest``."""
        record = self.records.get(key)
        return record if record is not None and record.sha256 == digest else None


def write_manifest(directory: Path, records: list[PageRecord], *, settings_fingerprint: str,
                   summary: dict[str, Any]) -> None:
    """Write the page manifest into a build directory (before it is published)."""
    blob = b"\n".join(r.to_json() for r in records)
    (directory / PAGES_FILE).write_bytes(blob)
    meta = {"extractor_version": EXTRACTOR_VERSION, "fingerprint": settings_fingerprint,
            "pages_sha256": sha256(blob), "summary": summary}
    (directory / META_FILE).write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
