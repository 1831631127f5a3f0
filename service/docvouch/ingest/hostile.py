"""Guards every ingested page passes before and while it is parsed.

Documentation comes from folders and web sites we do not control, so each page is treated
as hostile until proven otherwise (the X1-X8 cases of the reliability plan):

* size is capped *before* anything is parsed, and again after decompression (a 200 KB gzip
  member can expand to 200 MiB; multi-member streams are capped too);
* bytes become text with a byte-order mark first, then strict UTF-8, then the declared or
  detected charset; C0 controls, NULs and non-characters are removed, never passed on;
* HTML is parsed by libxml2 with the network off, no DTD loading and no entity expansion;
  a document nested deeper than ``max_depth`` or holding more than ``max_elements`` elements
  is *rejected* with the reason: libxml2 silently drops everything past its depth cap, and a
  page indexed in part (a shallow decoy kept, the real text lost) is worse than none.

Callers catch :class:`PageRejected`, whose ``reason`` goes into the ingest summary.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import asdict, dataclass
from typing import Any

from lxml import etree
from lxml import html as lxml_html
from trafilatura.utils import detect_encoding, handle_compressed_file

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32-le"),
         (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_BINARY_SAMPLE = 8192
_BINARY_SHARE = 0.10  # control bytes in the first 8 KiB past which a "page" is not text


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps applied to every page; each is a named setting with a unit in its name."""

    max_page_bytes: int = 5 * 1024 * 1024  # raw, and again after decompression
    max_elements: int = 50_000  # lxml elements in one page
    max_depth: int = 255  # element nesting below <body>
    memory_bytes: int = 1536 * 1024 * 1024  # RLIMIT_AS of each extractor process
    page_timeout_s: float = 60.0  # one page's extraction, in its child process

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PageRejected(Exception):
    """A page that is not indexed, with the reason the summary shows."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decompress(data: bytes, *, limits: Limits, declared: str = "") -> bytes:
    """The page's bytes, decompressed with the output capped, if they are compressed.

    ``declared`` is a Content-Encoding or a file suffix (``gzip``, ``br``, ``zstd``). A
    stream that is corrupt, expands past the cap or has too many members is rejected; so is
    compression inside compression.
    """
    declared = declared.lower().strip()
    magic = data[:2] == GZIP_MAGIC or data[:4] == ZSTD_MAGIC
    if not magic and declared not in ("gzip", "x-gzip", "br", "zstd", "deflate"):
        return data
    if len(data) > limits.max_page_bytes:
        raise PageRejected(f"compressed page of {len(data):,} bytes is over the "
                           f"{limits.max_page_bytes:,}-byte cap")
    # trafilatura's bounded decompression (gzip and zstd member caps, brotli output limit)
    out = handle_compressed_file(data, max_size=limits.max_page_bytes)
    if out is data or out == data:
        raise PageRejected("compressed content is corrupt, of an unsupported kind, has too "
                           f"many members, or expands past {limits.max_page_bytes:,} bytes")
    if out[:2] == GZIP_MAGIC or out[:4] == ZSTD_MAGIC:
        raise PageRejected("compressed content inside compressed content")
    return out


def decode(data: bytes, *, limits: Limits) -> str:
    """Bytes → clean text: cap, binary check, BOM > UTF-8 > declared charset > detection."""
    if len(data) > limits.max_page_bytes:
        raise PageRejected(f"page of {len(data):,} bytes is over the "
                           f"{limits.max_page_bytes:,}-byte cap (not parsed)")
    for bom, codec in _BOMS:
        if data.startswith(bom):  # the HTML rule: a byte-order mark beats <meta charset>
            return clean_text(data[len(bom):].decode(codec, "replace"))
    if _looks_binary(data):
        raise PageRejected("binary content, not text")
    try:
        return clean_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    candidates = []
    declared = _META_CHARSET_RE.search(data[:4096])
    if declared:
        candidates.append(declared.group(1).decode("ascii", "replace"))
    candidates.extend(detect_encoding(data))
    for name in candidates:
        try:
            return clean_text(data.decode(name))
        except (LookupError, UnicodeDecodeError):
            continue
    return clean_text(data.decode("utf-8", "replace"))


def _looks_binary(data: bytes) -> bool:
    sample = data[:_BINARY_SAMPLE]
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(sample) > _BINARY_SHARE


def clean_text(text: str) -> str:
    """Text without C0 controls (tab and newlines kept), DEL or the non-characters U+FFFE/F."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", text)


def html_parser() -> lxml_html.HTMLParser:
    """A fresh libxml2 HTML parser: no network, no comments/PIs, ids not hashed.

    ``huge_tree`` lifts libxml2's own depth cap (256) to 2048 so that *this* module decides
    at ``max_depth`` and says so; without it a deep page loses its text without an error.
    Input size is already capped, which is what libxml2's other "huge" limits protect.
    """
    return lxml_html.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True,
                                remove_pis=True, huge_tree=True, default_doctype=False,
                                collect_ids=False)


def parse_html(text: str, *, limits: Limits) -> lxml_html.HtmlElement:
    """Parse a page's text into an lxml tree, or reject it (depth, element count, empty)."""
    raw = text.encode("utf-8")
    if len(raw) > limits.max_page_bytes:
        raise PageRejected(f"page of {len(raw):,} bytes is over the "
                           f"{limits.max_page_bytes:,}-byte cap (not parsed)")
    if not raw.strip():
        raise PageRejected("empty page")
    parser = html_parser()
    try:
        root = lxml_html.document_fromstring(raw, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise PageRejected(f"not HTML: {exc}") from exc
    for entry in parser.error_log:
        if "excessive depth" in entry.message.lower():
            raise PageRejected("Excessive depth: elements nested past the parser's limit; "
                               "the page would be indexed only in part")
    check_tree(root, limits=limits)
    return root


def check_tree(root: etree._Element, *, limits: Limits) -> None:
    """Reject a tree over the element cap or nested deeper than ``max_depth`` below body."""
    depth = count = deepest = 0
    body_depth = 2  # <html><body>: libxml2 always builds both for an HTML document
    for event, _element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        count += 1
        deepest = max(deepest, depth)
        if count > limits.max_elements:
            raise PageRejected(f"more than {limits.max_elements:,} elements")
        if depth - body_depth > limits.max_depth:
            raise PageRejected(f"Excessive depth: elements nested more than {limits.max_depth} "
                               "deep; the page is not indexed rather than indexed in part")


def xml_parser() -> etree.XMLParser:
    """A libxml2 XML parser for sitemaps: entities not expanded, no DTD, no network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True, recover=True)


def parse_xml(data: bytes, *, limits: Limits) -> etree._Element:
    """Parse XML (a sitemap) with :func:`xml_parser`; rejected when empty or over the caps."""
    if len(data) > limits.max_page_bytes:
        raise PageRejected(f"document of {len(data):,} bytes is over the "
                           f"{limits.max_page_bytes:,}-byte cap (not parsed)")
    try:
        root = etree.fromstring(data, parser=xml_parser())
    except etree.XMLSyntaxError as exc:
        raise PageRejected(f"not XML: {exc}") from exc
    if root is None:
        raise PageRejected("not XML: empty document")
    depth = count = 0
    for event, _element in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        count += event == "start"
        if count > limits.max_elements * 4 or depth > limits.max_depth:
            raise PageRejected("XML document over the element or depth cap")
    return root
