"""One HTML page → sections with real anchors, code blocks, version notes and symbols.

Two routes, chosen per page:

* **Generated documentation** (Sphinx, MkDocs, DocBook, AsciiDoc and anything else whose
  main content is marked: ``role="main"``, ``<main>``, ``<article>``, permalinked headings):
  the marked region is walked with lxml. Each heading starts a section anchored at its
  permalink (``<a class="headerlink" href="#x">``), else its own ``id``, else the id of the
  section element it opens; each object description (``<dl class="py function">``) becomes
  its own section anchored at its ``dt`` id, with its symbols and version notes.
* **Anything else**: trafilatura separates the main text from the boilerplate, and the
  headings it keeps get their anchors back from the original tree.

The page was parsed by :func:`docvouch.ingest.hostile.parse_html` (caps already applied).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urldefrag, urljoin

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from trafilatura.settings import use_config

from docvouch.ingest import signatures as sig
from docvouch.ingest.hostile import Limits, PageRejected, decode, decompress, parse_html, xml_parser
from docvouch.ingest.sections import PageInfo, Section, SymbolDraft, notes_in_text, to_result
from docvouch.passages import VersionNote

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "aside", "blockquote", "pre", "ul", "ol", "li",
    "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
    "figure", "figcaption", "details", "summary", "header", "footer", "hr", "center",
    "address", "fieldset", "nav", *HEADINGS,
}
DROP_TAGS = {"script", "style", "noscript", "template", "nav", "form", "button", "svg",
             "iframe", "object", "embed", "canvas", "select", "input", "textarea", "link",
             "meta", "head", "img", "picture", "video", "audio", "map"}
DROP_CLASSES = {
    "headerlink", "toc", "navheader", "navfooter", "sphinxsidebar", "related",
    "md-sidebar", "md-footer", "md-header", "md-source-file", "md-content__button",
    "breadcrumbs", "wy-breadcrumbs", "rst-footer-buttons", "toctree-wrapper", "prev-next-area",
    "bd-sidebar-primary", "bd-sidebar-secondary", "skip-link", "section-number", "linenos",
    "copybutton", "sphinx-tabs-tab",
}
DROP_IDS = {"footer", "toc", "global-nav", "searchbox", "sidebar"}
DROP_ROLES = {"navigation", "search", "banner", "contentinfo"}
SECTION_CLASSES = {"section", "sect1", "sect2", "sect3", "sect4", "sect5", "refsect1",
                   "refsect2", "refentry", "chapter", "appendix", "preface", "simplesect"}
NOTE_CLASSES = {"versionadded": "added", "versionchanged": "changed",
                "deprecated": "deprecated", "versionremoved": "removed"}
_MAIN_XPATHS = (
    '//*[@role="main"]',
    '//article[contains(concat(" ", normalize-space(@class), " "), " md-content__inner ")]',
    "//main",
    "//article",
    '//div[contains(concat(" ", normalize-space(@class), " "), " body ")]',
)
_MANPAGE_RE = re.compile(r"^\s*([\w.+-]+)\(\d\w*\)")
_SETTING_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_VERSION_RE = re.compile(r"\d+(?:\.\d+)*")
MAX_LINKS = 5000


@lru_cache(maxsize=1)
def _trafilatura_config():  # type: ignore[no-untyped-def]
    config = use_config()
    config.set("DEFAULT", "MAX_TREE_SIZE", "50000")  # the element cap of the reliability plan
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # we time out in the parent process
    return config


def extract_html(data: bytes, page: PageInfo, *, limits: Limits, encoding: str = "",
                 want_links: bool = False, command_prefixes: tuple[str, ...] = ()) -> dict:
    """A page's passages and symbols (as dicts), its title and, for crawls, its links."""
    text = decode(decompress(data, limits=limits, declared=encoding), limits=limits)
    root = parse_html(text, limits=limits)
    links = page_links(root, page.url) if want_links else []
    generator = (root.xpath('string(//meta[@name="generator"]/@content)') or "").lower()
    region = main_region(root, generator)
    title = _page_title(root, region)
    if region is None:
        sections = _via_trafilatura(root, title)
    else:
        walker = _Walker(title, manpage=_manpage_name(root, generator),
                         command_prefixes=command_prefixes)
        walker.run(region)
        sections = walker.sections
    if not any(s.lines or s.code for s in sections):
        raise PageRejected("no text found in the page's main content")
    return to_result(page, sections, title=title, links=links)


def page_links(root: etree._Element, base: str) -> list[str]:
    """Absolute http(s) links of a page, fragments removed, in document order, deduplicated."""
    seen: dict[str, None] = {}
    for href in root.xpath("//a/@href | //link[@rel='next']/@href | //area/@href"):
        href = str(href).strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "data:")):
            continue
        try:
            absolute = urldefrag(urljoin(base, href))[0]
        except ValueError:
            continue
        if absolute.startswith(("http://", "https://")):
            seen.setdefault(absolute, None)
        if len(seen) >= MAX_LINKS:
            break
    return list(seen)


def _page_title(root: etree._Element, region: etree._Element | None) -> str:
    """The first h1 of the content (a site header's h1 is not the page's), else <title>."""
    for scope in (region, root):
        for h1 in scope.iter("h1") if scope is not None else ():
            text = sig.flat(h1).rstrip("#§ ")
            if text:
                return text
    title = root.find(".//title")
    return " ".join((title.text_content() if title is not None else "").split())


def _manpage_name(root: etree._Element, generator: str) -> str:
    title = root.find(".//title")
    text = title.text_content() if title is not None else ""
    match = _MANPAGE_RE.match(text)
    return match.group(1) if match and ("asciidoc" in generator or "manpage" in text
                                        or "(1)" in text) else ""


def main_region(root: etree._Element, generator: str) -> etree._Element | None:
    """The element holding the page's own content, or None when nothing marks it."""
    if generator.startswith(("docbook", "asciidoc", "asciidoctor")):
        return root.find("body")
    for xpath in _MAIN_XPATHS:
        found = root.xpath(xpath)
        if found and len(found[0].text_content().strip()) > 40:
            return found[0]
    permalinked = root.xpath('//*[self::h1 or self::h2 or self::h3 or self::h4]'
                             '[a[contains(concat(" ", @class, " "), " headerlink ")]]')
    if permalinked:
        return _common_ancestor(permalinked)
    return None


def _common_ancestor(elements: list[etree._Element]) -> etree._Element:
    chain = list(elements[0].iterancestors())
    for other in elements[1:]:
        ancestors = set(other.iterancestors())  # lxml keeps one proxy per live node
        chain = [a for a in chain if a in ancestors]
    return chain[0]


def _prepare(region: etree._Element) -> None:
    """Move permalinks onto their owners, then drop navigation, scripts and decorations."""
    for link in list(region.iter("a")):
        if "headerlink" in sig.classes(link):
            href = link.get("href") or ""
            owner = link.getparent()
            if href.startswith("#") and owner is not None and not owner.get("data-dv-anchor"):
                owner.set("data-dv-anchor", href[1:])
    doomed = [el for el in region.iter() if isinstance(el.tag, str) and el is not region and (
        el.tag in DROP_TAGS or sig.classes(el) & DROP_CLASSES or el.get("id") in DROP_IDS
        or el.get("role") in DROP_ROLES
        or ({"contents", "topic"} <= sig.classes(el)))]
    for el in doomed:
        if el.getparent() is not None:
            _drop(el)


def _drop(el: etree._Element) -> None:
    """Remove an element but keep its tail text in place."""
    if isinstance(el, lxml_html.HtmlElement):
        el.drop_tree()
    else:  # pragma: no cover - every element of an lxml.html tree is an HtmlElement
        el.getparent().remove(el)


class _Walker:
    """Walks a content region in document order, filling one section at a time."""

    def __init__(self, title: str, *, manpage: str = "",
                 command_prefixes: tuple[str, ...] = ()) -> None:
        self.title = title
        self.sections = [Section(title=title, heading_path=[title] if title else [])]
        self.current = self.sections[0]
        self.stack: list[tuple[int, str]] = []
        self.manpage = manpage
        self.command_prefixes = command_prefixes
        self.pending: list[SymbolDraft] = []  # targets seen before the heading they label
        self.section_drafts: list[tuple[Section, SymbolDraft]] = []

    def run(self, region: etree._Element) -> None:
        _prepare(region)
        self.walk(region)
        for section in self.sections:  # a module's own notes date the module
            for draft in section.symbols:
                if draft.kind == "module":
                    draft.version_notes = sig.symbol_notes(section.notes)
        for section, draft in self.section_drafts:
            draft.version_notes = sig.symbol_notes(section.notes)

    # --- dispatch ----------------------------------------------------------------------

    def walk(self, el: etree._Element) -> None:
        tag = el.tag
        if not isinstance(tag, str):
            return
        if tag in HEADINGS:
            self._heading(el, HEADINGS[tag])
        elif tag == "pre":
            self.current.add_code(el.text_content())
        elif _note_kind(el) is not None:
            self._version_note(el)
        elif tag == "dl" and self._is_entry_list(el):
            self._entries(el)
        elif tag == "dl" and self.manpage:
            self._manpage_list(el)
        elif tag == "tr":
            cells = [sig.flat(c) for c in el if isinstance(c.tag, str)]
            self.current.add_line(" | ".join(c for c in cells if c))
        else:
            self._container(el)

    def _container(self, el: etree._Element) -> None:
        opens_section = bool(sig.classes(el) & SECTION_CLASSES) or el.tag == "section"
        saved = (self.current, list(self.stack)) if opens_section else None
        if opens_section:
            self._note_target(el)
        self.walk_children(el)
        if saved is not None:
            self.current, self.stack = saved

    def walk_children(self, el: etree._Element) -> None:
        """Inline runs become one line each; block children are walked in turn."""
        run: list[str] = [el.text or ""]
        for child in el:
            if isinstance(child.tag, str) and (child.tag in BLOCK_TAGS or _note_kind(child)):
                self._flush(run)
                run = []
                self.walk(child)
            elif isinstance(child.tag, str):
                if child.get("id"):
                    self._note_target(child)
                run.append(child.text_content())
            run.append(child.tail or "")
        self._flush(run)

    def _flush(self, run: list[str]) -> None:
        self.current.add_line(" ".join("".join(run).replace("¶", " ").split()))

    # --- headings and sections -----------------------------------------------------------

    def _heading(self, el: etree._Element, level: int) -> None:
        text = sig.flat(el).rstrip("#§ ").strip()
        if not text:
            return
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))
        path = [t for _, t in self.stack]
        if self.title and path[0] != self.title:
            path.insert(0, self.title)
        section = Section(title=text, anchor=_heading_anchor(el), heading_path=path)
        if self.pending:
            section.symbol = self.pending[0].name
            section.symbols.extend(self.pending)
            self.pending = []
        self.sections.append(section)
        self.current = section

    def _note_target(self, el: etree._Element) -> None:
        """``id="module-os.path"`` labels a module, ``id="std-setting-DEBUG"`` a setting."""
        ident = el.get("id") or ""
        ident = ident[2:] if ident.startswith("s-") else ident
        kind = None
        if ident.startswith("module-"):
            kind, name = "module", ident[len("module-"):]
        elif ident.startswith(("std-setting-", "std:setting-")) \
                and _SETTING_RE.match(ident[len("std-setting-"):]):
            kind, name = "config", ident[len("std-setting-"):]
        if kind and not any(p.name == name for p in self.pending):
            self.pending.append(SymbolDraft(name=name, kind=kind))

    # --- object descriptions -------------------------------------------------------------

    def _is_entry_list(self, dl: etree._Element) -> bool:
        if sig.entry_kind(dl) is not None:
            return True
        return any(dt.get("id") for dt in dl if dt.tag == "dt")

    def _entries(self, dl: etree._Element) -> None:
        parent = self.current
        group: list[etree._Element] = []
        for child in dl:
            if child.tag == "dt":
                group.append(child)
            elif child.tag == "dd":
                self._entry(dl, group, child, parent)
                group = []
        if group:
            self._entry(dl, group, None, parent)
        self.current = parent

    def _entry(self, dl: etree._Element, dts: list[etree._Element], dd: etree._Element | None,
               parent: Section) -> None:
        if not dts:
            if dd is not None:
                self.current = parent
                self.walk_children(dd)
            return
        anchor = dts[0].get("data-dv-anchor") or dts[0].get("id") or _first_span_id(dts[0])
        signature = sig.flat(dts[0])
        drafts = [d for dt in dts for d in sig.symbols_for_entry(dl, dt, anchor=anchor)]
        if drafts and parent.title and not parent.lines and (dd is None or not sig.flat(dd)):
            # Django's layout: a heading, an empty description, then the section documents
            # the object. The section is its passage, and its notes date it.
            for dt in dts:
                parent.add_line(sig.flat(dt))
            parent.symbols.extend(drafts)
            parent.symbol = parent.symbol or drafts[0].name
            self.section_drafts.extend((parent, d) for d in drafts)
            return
        name = drafts[0].name if drafts else signature.split("(")[0].strip()
        entry = Section(title=signature, anchor=anchor or parent.anchor,
                        heading_path=[*parent.heading_path, name], symbols=drafts,
                        symbol=drafts[0].name if drafts else "")
        for dt in dts:
            entry.add_line(sig.flat(dt))
        self.sections.append(entry)
        self.current = entry
        if dd is not None:
            self.walk_children(dd)
        for draft in drafts:
            draft.version_notes = sig.symbol_notes(entry.notes)
        self.current = parent

    def _manpage_list(self, dl: etree._Element) -> None:
        """A manual page's definition list: each option or config key gets its own passage."""
        in_options = any("option" in t.lower() for _, t in self.stack)
        parent = self.current
        terms: list[str] = []
        for child in dl:
            if child.tag == "dt":
                terms.append(sig.flat(child))
            elif child.tag == "dd":
                self._manpage_entry(terms, child, parent, in_options=in_options)
                terms = []
        for term in terms:
            parent.add_line(term)
        self.current = parent

    def _manpage_entry(self, terms: list[str], dd: etree._Element, parent: Section,
                       *, in_options: bool) -> None:
        drafts: list[SymbolDraft] = []
        for term in terms:
            if in_options:
                drafts.extend(sig.manpage_options(term, self.manpage, self.command_prefixes))
            elif (key := sig.config_key(term)) is not None:
                drafts.append(key)
        if not drafts:
            for term in terms:
                parent.add_line(term)
            self.current = parent
            self.walk_children(dd)
            return
        entry = Section(title=", ".join(terms), anchor=parent.anchor,
                        heading_path=[*parent.heading_path, drafts[0].name],
                        symbols=drafts, symbol=drafts[0].name)
        for term in terms:
            entry.add_line(term)
        self.sections.append(entry)
        self.current = entry
        self.walk_children(dd)
        self.current = parent

    # --- version notes -------------------------------------------------------------------

    def _version_note(self, el: etree._Element) -> None:
        text = sig.flat(el)
        self.current.add_line(text)
        kind = _note_kind(el) or ""
        if kind == "?":
            self.current.notes.extend(notes_in_text(text))
            return
        match = _VERSION_RE.search(text)
        if match:
            self.current.notes.append(VersionNote(kind, match.group(0), text[:240]))  # type: ignore[arg-type]


def _note_kind(el: etree._Element) -> str | None:
    """added/changed/deprecated/removed for a version-note element, "?" if only the text says."""
    if not isinstance(el.tag, str):
        return None
    tokens = sig.classes(el)
    for cls, kind in NOTE_CLASSES.items():
        if cls in tokens and el.tag in ("div", "p", "span"):
            return kind
    if el.tag == "p" and len(el) and "versionmodified" in sig.classes(el[0]):
        span_tokens = sig.classes(el[0])
        for kind in ("added", "changed", "deprecated", "removed"):
            if kind in span_tokens:
                return kind
        return "?"
    return None


def _heading_anchor(el: etree._Element) -> str:
    """The heading's permalink, its id, the id of the section it opens, or a target before it."""
    if el.get("data-dv-anchor"):
        return el.get("data-dv-anchor") or ""
    if el.get("id"):
        return el.get("id") or ""
    for inner in el.iter("a", "span"):  # <h2><a name="health"></a>Checking health</h2>
        if inner is not el and (inner.get("id") or inner.get("name")):
            return inner.get("id") or inner.get("name") or ""
    for ancestor in el.iterancestors():
        ident = ancestor.get("id")
        if ident:
            first = ancestor.xpath("(.//h1|.//h2|.//h3|.//h4|.//h5|.//h6)[1]")
            return ident if first and first[0] is el else ""
        if ancestor.tag in ("body", "main", "article"):
            break
    previous = el.getprevious()
    while previous is not None and previous.tag in ("a", "span") and not sig.flat(previous):
        if previous.get("id") or previous.get("name"):
            return previous.get("id") or previous.get("name") or ""
        previous = previous.getprevious()
    return ""


def _first_span_id(dt: etree._Element) -> str:
    for el in dt.iter("span", "a"):
        if el.get("id"):
            return el.get("id") or ""
    return ""


def _via_trafilatura(root: etree._Element, title: str) -> list[Section]:
    """Main text by trafilatura; headings get their anchors back from the original tree."""
    anchors: dict[str, str] = {}
    for level in HEADINGS:
        for heading in root.iter(level):
            anchors.setdefault(_key(sig.flat(heading)), _heading_anchor(heading))
    xml = trafilatura.extract(root, output_format="xml", include_formatting=True,
                              include_tables=True, include_comments=False, include_links=False,
                              include_images=False, favor_recall=True,
                              config=_trafilatura_config())
    if not xml:
        return []
    doc = etree.fromstring(xml.encode("utf-8"), parser=xml_parser())
    body = doc.find("main")
    body = body if body is not None else doc
    sections = [Section(title=title, heading_path=[title] if title else [])]
    for el in body:
        text = " ".join("".join(el.itertext()).split())
        if el.tag == "head":
            sections.append(Section(title=text, anchor=anchors.get(_key(text), ""),
                                    heading_path=[title, text] if title and title != text
                                    else [text]))
        elif el.tag == "code":
            sections[-1].add_code("".join(el.itertext()))
        elif el.tag in ("list", "table"):
            for row in el:
                sections[-1].add_line(" | ".join(" ".join("".join(c.itertext()).split())
                                                 for c in row) if el.tag == "table"
                                      else " ".join("".join(row.itertext()).split()))
        else:
            sections[-1].add_line(text)
    return sections


def _key(text: str) -> str:
    return " ".join(text.replace("¶", " ").split()).lower()
