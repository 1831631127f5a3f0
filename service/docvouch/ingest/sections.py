"""What every page extractor produces: sections, symbols drafts, and the page result.

A :class:`Section` is one heading's worth of a page (or one documented object of an API
page): its anchor, heading path, text lines, code blocks and version notes. ``to_result``
turns a page's sections into the :class:`~docvouch.passages.Passage` records the index
holds, splitting long sections at line boundaries so that BM25 ranks comparable units, and
gives each symbol the index of its passage *within the page* (the builder offsets it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from docvouch.passages import Passage, Symbol, VersionNote

MAX_PASSAGE_CHARS = 3000  # longer sections become several passages with the same anchor
MIN_SECTION_CHARS = 1  # a heading with no text under it still names the topic

_NOTE_RE = re.compile(
    r"\b(New|Added|Changed|Deprecated|Removed)\s+(?:in|since)\s+(?:version|[A-Z][\w.+-]*)\s+"
    r"v?(\d+(?:\.\d+)*)", re.I)
_NOTE_KIND = {"new": "added", "added": "added", "changed": "changed",
              "deprecated": "deprecated", "removed": "removed"}


def notes_in_text(text: str) -> list[VersionNote]:
    """Version notes written as prose ("New in version 3.8", "Changed in Django 3.2: ...")."""
    notes = []
    for match in _NOTE_RE.finditer(text):
        kind = _NOTE_KIND[match.group(1).lower()]
        end = text.find("\n", match.end())
        sentence = text[match.start(): end if end != -1 else match.end() + 200]
        notes.append(VersionNote(kind, match.group(2), " ".join(sentence.split())[:240]))  # type: ignore[arg-type]
    return notes


@dataclass(slots=True)
class SymbolDraft:
    """A symbol before its passage index is known (it belongs to one section)."""

    name: str
    kind: str
    params: list[str] | None = None
    signature: str = ""
    var_keyword: bool = False
    version_notes: list[VersionNote] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Section:
    """One heading's (or one documented object's) content on a page."""

    title: str
    anchor: str = ""
    heading_path: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    notes: list[VersionNote] = field(default_factory=list)
    symbols: list[SymbolDraft] = field(default_factory=list)
    symbol: str = ""  # the qualified name this section documents, if any

    def add_line(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.lines.append(text)

    def add_code(self, code: str) -> None:
        code = code.strip("\n")
        if code.strip():
            self.code.append(code)

    @property
    def empty(self) -> bool:
        return not self.lines and not self.code and not self.symbols


@dataclass(slots=True)
class PageInfo:
    """Where a page comes from and where its passages link to."""

    key: str  # stable page key: relative path, or URL for a crawl
    url: str  # public URL of the page, without a fragment
    corpus: str
    version: str = ""


def to_result(page: PageInfo, sections: list[Section], *, title: str,
              links: list[str] | None = None) -> dict[str, Any]:
    """The page result a worker returns: passages and symbols as dicts, plus metadata."""
    passages: list[Passage] = []
    symbols: list[Symbol] = []
    ids = _Ids()
    for section in sections:
        if section.empty:
            continue
        notes = section.notes or notes_in_text("\n".join(section.lines))
        url = f"{page.url}#{section.anchor}" if section.anchor else page.url
        base = f"{page.corpus}:{page.key}" + (f"#{section.anchor}" if section.anchor else "")
        first = len(passages)
        # a section with only code, or only a signature, still gets one passage
        for chunk_no, text in enumerate(_chunks(section.lines) or [section.title]):
            passages.append(Passage(
                id=ids.new(base), url=url, title=section.title or title, text=text,
                heading_path=list(section.heading_path),
                code=list(section.code) if chunk_no == 0 else [], source=page.corpus,
                version=page.version, symbol=section.symbol, version_notes=list(notes),
            ))
        for draft in section.symbols:
            for name in (draft.name, *draft.aliases):
                symbols.append(Symbol(
                    name=name, kind=draft.kind, passage=first, params=draft.params,  # type: ignore[arg-type]
                    signature=draft.signature, var_keyword=draft.var_keyword,
                    version_notes=list(draft.version_notes)))
    return {"title": title, "passages": [p.to_dict() for p in passages],
            "symbols": [s.to_dict() for s in symbols], "links": links or []}


class _Ids:
    """Passage ids unique within a page: ``base``, then ``base~2``, ``base~3``…"""

    def __init__(self) -> None:
        self._count: dict[str, int] = {}

    def new(self, base: str) -> str:
        n = self._count.get(base, 0) + 1
        self._count[base] = n
        return base if n == 1 else f"{base}~{n}"


def _chunks(lines: list[str], limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Join lines into texts of at most ``limit`` characters (a longer line is cut at words)."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        for piece in _split_long(line, limit):
            if current and size + len(piece) + 1 > limit:
                out.append("\n".join(current))
                current, size = [], 0
            current.append(piece)
            size += len(piece) + 1
    if current:
        out.append("\n".join(current))
    return out


def _split_long(line: str, limit: int) -> list[str]:
    if len(line) <= limit:
        return [line]
    pieces = []
    while len(line) > limit:
        cut = line.rfind(" ", 0, limit)
        cut = cut if cut > limit // 2 else limit
        pieces.append(line[:cut].strip())
        line = line[cut:].strip()
    if line:
        pieces.append(line)
    return pieces
