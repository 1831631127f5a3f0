"""The units the index holds: passages (one section of one page) and documented symbols.

Every ingest source (the stdlib introspector, HTML, Markdown, packages) produces these two
record types; the index builder and the matcher consume them. Plain dataclasses with
``to_dict``/``from_dict`` so they travel through orjson and between processes cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

VersionKind = Literal["added", "changed", "deprecated", "removed"]


@dataclass(frozen=True, slots=True)
class VersionNote:
    """A structured "New in version 3.8" / "Deprecated since version 3.12" note."""

    kind: VersionKind
    version: str
    text: str = ""


@dataclass(slots=True)
class Passage:
    """One section of one documentation page, the unit BM25 ranks."""

    id: str
    url: str  # with the #anchor of the section
    title: str
    text: str
    heading_path: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    source: str = ""  # corpus name
    version: str = ""  # corpus (documented software) version
    symbol: str = ""  # the qualified name this passage documents, if any
    version_notes: list[VersionNote] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return orjson.loads(orjson.dumps(self))  # dataclasses.asdict deep-copies: 50x slower

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Passage:
        notes = [VersionNote(**n) for n in raw.get("version_notes", ())]
        return cls(**{**raw, "version_notes": notes})


SymbolKind = Literal[
    "module", "class", "function", "method", "attribute", "data", "exception",
    "keyword", "option", "config",
]


@dataclass(slots=True)
class Symbol:
    """A documented identifier: dotted name, CLI flag or config key, and how to call it."""

    name: str  # fully qualified, e.g. "os.path.isdir", "git push --force-with-lease"
    kind: SymbolKind
    passage: int  # index of the documenting passage in the index
    params: list[str] | None = None  # names accepted as keywords; None: signature unknown
    signature: str = ""  # as documented, for display: "sorted(iterable, /, *, key=None, ...)"
    var_keyword: bool = False  # signature ends in **kwargs
    documented_keywords: list[str] = field(default_factory=list)  # kwargs named in the docs
    returns: str = ""  # documented class of the result ("sqlite3.Cursor"), when the docs say
    version_notes: list[VersionNote] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return orjson.loads(orjson.dumps(self))  # dataclasses.asdict deep-copies: 50x slower

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Symbol:
        notes = [VersionNote(**n) for n in raw.get("version_notes", ())]
        return cls(**{**raw, "version_notes": notes})
