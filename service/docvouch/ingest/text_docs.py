"""Markdown, reStructuredText and plain-text files → sections (by headings, code kept).

* **Markdown** through markdown-it-py (CommonMark + tables): every heading starts a section
  anchored at the GitHub-style slug of its text, which is what GitHub, most static-site
  generators and ``--base-url`` links use; fenced and indented code go to ``code``.
* **reStructuredText** through docutils, with file inclusion and ``raw`` off: section ids are
  docutils' own, the same ids Sphinx gives the published HTML. Directives docutils does not
  know (Sphinx's ``function``, ``versionadded``, ``code-block``…) are handled generically so
  their text is kept, Python object directives become symbols, and version directives
  become version notes.
* **Plain text**: underlined or ``#`` headings split sections; otherwise the text is kept
  in passages of bounded size.
"""

from __future__ import annotations

import io
import re
from typing import Any

from docvouch.ingest.hostile import Limits, PageRejected, decode, decompress
from docvouch.ingest.sections import PageInfo, Section, SymbolDraft, to_result
from docvouch.passages import VersionNote

_FRONT_MATTER_RE = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.S)
_TITLE_RE = re.compile(r"^title:\s*[\"']?(.+?)[\"']?\s*$", re.M)
_SLUG_DROP_RE = re.compile(r"[^\w\- ]", re.U)
_TAG_RE = re.compile(r"<[^>]{0,2000}>")
_ADORNMENT_RE = re.compile(r"^([=\-~^\"'`#*+_:.])\1{2,}\s*$")
_ATX_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
MAX_MARKDOWN_NESTING = 20  # markdown-it stops nesting deeper blocks past this


def extract_text_doc(data: bytes, page: PageInfo, *, fmt: str, limits: Limits,
                     encoding: str = "") -> dict[str, Any]:
    """A Markdown / reST / text file's passages (see :mod:`docvouch.ingest.sections`)."""
    text = decode(decompress(data, limits=limits, declared=encoding), limits=limits)
    if not text.strip():
        raise PageRejected("empty file")
    fallback_title = page.key.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("_", " ")
    if fmt == "markdown":
        title, sections = markdown_sections(text, fallback_title)
    elif fmt == "rst":
        title, sections = rst_sections(text, fallback_title)
    else:
        title, sections = text_sections(text, fallback_title)
    return to_result(page, sections, title=title)


def github_slug(text: str, used: dict[str, int]) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces → hyphens, deduped."""
    slug = _SLUG_DROP_RE.sub("", text.strip().lower()).replace(" ", "-")
    count = used.get(slug, 0)
    used[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count}"


# --- Markdown ----------------------------------------------------------------------------


def markdown_sections(text: str, fallback_title: str) -> tuple[str, list[Section]]:
    """Sections of a Markdown document, split at its headings."""
    from markdown_it import MarkdownIt

    title = fallback_title
    front = _FRONT_MATTER_RE.match(text)
    if front:
        found = _TITLE_RE.search(front.group(1))
        title = found.group(1) if found else title
        text = text[front.end():]
    md = MarkdownIt("commonmark", {"maxNesting": MAX_MARKDOWN_NESTING}).enable("table")
    tokens = md.parse(text)
    headings = [_inline_text(tokens[i + 1]) for i, t in enumerate(tokens)
                if t.type == "heading_open" and t.tag == "h1"]
    if headings and not front:
        title = headings[0]
    sections = [Section(title=title, heading_path=[title])]
    stack: list[tuple[int, str]] = []
    slugs: dict[str, int] = {}
    row: list[str] | None = None
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            level = int(token.tag[1])
            heading = _inline_text(tokens[i + 1])
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            path = [t for _, t in stack]
            if path[0] != title:
                path.insert(0, title)
            sections.append(Section(title=heading, anchor=github_slug(heading, slugs),
                                    heading_path=path))
        elif token.type in ("fence", "code_block"):
            sections[-1].add_code(token.content)
        elif token.type == "html_block":
            sections[-1].add_line(_TAG_RE.sub(" ", token.content))
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            sections[-1].add_line(" | ".join(c for c in row if c))
            row = None
        elif token.type == "inline" and (i == 0 or tokens[i - 1].type != "heading_open"):
            if row is not None:
                row.append(_inline_text(token))
            else:
                sections[-1].add_line(_inline_text(token))
    return title, sections


def _inline_text(token: Any) -> str:
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak") or child.type == "html_inline":
            parts.append(" ")
    return " ".join("".join(parts).split())


# --- reStructuredText --------------------------------------------------------------------

_RST_DIRECTIVE_RE = re.compile(r"^\s*\.\.\s+([\w:.+-]+)::", re.M)
_RST_ROLE_RE = re.compile(r":([\w:.+-]+):`")
_DOCUTILS_KEEP = frozenset({
    "admonition", "attention", "caution", "danger", "error", "hint", "important", "note",
    "tip", "warning", "topic", "sidebar", "rubric", "epigraph", "highlights", "pull-quote",
    "compound", "container", "table", "list-table", "csv-table", "math", "parsed-literal",
    "line-block", "code", "image", "figure", "contents", "sectnum", "title",
    "role", "default-role", "replace", "unicode", "date", "header", "footer", "meta",
    "include", "raw",  # kept so that their own (disabled) handling refuses them
})
VERSION_DIRECTIVES = {"versionadded": ("added", "New in version"),
                      "versionchanged": ("changed", "Changed in version"),
                      "deprecated": ("deprecated", "Deprecated since version"),
                      "versionremoved": ("removed", "Removed in version")}
CODE_DIRECTIVES = {"code-block", "sourcecode", "doctest", "testcode", "testoutput",
                   "prompt", "console"}
PY_DIRECTIVES = {"function": "function", "method": "method", "classmethod": "method",
                 "staticmethod": "method", "class": "class", "exception": "exception",
                 "attribute": "attribute", "property": "attribute", "data": "data",
                 "decorator": "function"}


def rst_sections(text: str, fallback_title: str) -> tuple[str, list[Section]]:
    """Sections of a reST document, by docutils' section tree and ids."""
    from docutils import nodes
    from docutils.core import publish_doctree

    _register_unknown(text)
    settings = {"report_level": 5, "halt_level": 5, "file_insertion_enabled": False,
                "raw_enabled": False, "warning_stream": io.StringIO(), "_disable_config": True,
                "input_encoding": "unicode", "syntax_highlight": "none", "smart_quotes": False,
                "line_length_limit": 20_000, "doctitle_xform": True}
    try:
        doctree = publish_doctree(text, settings_overrides=settings)
    except RecursionError as exc:
        raise PageRejected("reStructuredText nested too deeply to parse") from exc
    except Exception as exc:  # docutils raises its own SystemMessage for broken input
        raise PageRejected(f"reStructuredText could not be parsed: {exc}"[:300]) from exc
    title = doctree.get("title") or fallback_title
    ids = doctree.get("ids") or []
    walker = _RstWalker(nodes, title, ids[0] if ids else "")
    walker.visit(doctree)
    return title, walker.sections


def _register_unknown(text: str) -> None:
    """Generic handlers for the Sphinx directives and roles a plain docutils lacks."""
    from docutils.parsers.rst import directives, roles

    for name in set(_RST_DIRECTIVE_RE.findall(text)) - _DOCUTILS_KEEP:
        directives.register_directive(name, _generic_directive())
    for name in set(_RST_ROLE_RE.findall(text)):
        roles.register_local_role(name, _generic_role)


def _generic_role(name: str, rawtext: str, text: str, lineno: int, inliner: Any,
                  options: Any = None, content: Any = None) -> tuple[list[Any], list[Any]]:
    from docutils import nodes

    shown = re.sub(r"\s*<[^>]*>$", "", text).lstrip("~!")  # :ref:`Title <label>` → Title
    return [nodes.literal(rawtext, shown)], []


class _AnyOptions(dict):
    """An option spec that accepts every option (Sphinx directives have many)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        from docutils.parsers.rst import directives

        return directives.unchanged


def _generic_directive() -> type:
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class Generic(Directive):
        has_content = True
        optional_arguments = 1
        final_argument_whitespace = True
        option_spec = _AnyOptions()

        def run(self) -> list[Any]:
            name = self.name.split(":")[-1]
            argument = " ".join(self.arguments[0].split()) if self.arguments else ""
            if name in CODE_DIRECTIVES:
                return [nodes.literal_block("\n".join(self.content), "\n".join(self.content))]
            box = nodes.container()
            box["dv_directive"] = name
            box["dv_argument"] = argument
            if name in VERSION_DIRECTIVES:
                kind, label = VERSION_DIRECTIVES[name]
                version, _, rest = argument.partition(" ")
                box["dv_note"] = (kind, version)
                box += nodes.paragraph(text=f"{label} {version}." + (f" {rest}" if rest else ""))
            elif argument:
                box += nodes.paragraph(text=argument)
            if self.content:
                self.state.nested_parse(self.content, self.content_offset, box)
            return [box]

    return Generic


class _RstWalker:
    def __init__(self, nodes: Any, title: str, anchor: str) -> None:
        self.nodes = nodes
        self.sections = [Section(title=title, anchor=anchor, heading_path=[title])]
        self.current = self.sections[0]
        self.module = ""
        self.classes: list[str] = []

    def visit(self, node: Any) -> None:
        nodes = self.nodes
        if isinstance(node, (nodes.system_message, nodes.comment, nodes.target,
                             nodes.substitution_definition, nodes.title)):
            return
        if isinstance(node, nodes.section):
            self._section(node)
        elif isinstance(node, (nodes.literal_block, nodes.doctest_block)):
            self.current.add_code(node.astext())
        elif isinstance(node, nodes.row):
            self.current.add_line(" | ".join(e.astext() for e in node.children))
        elif isinstance(node, nodes.container) and node.get("dv_directive"):
            self._directive(node)
        elif isinstance(node, nodes.TextElement):
            self.current.add_line(node.astext())
        else:
            for child in node.children:
                self.visit(child)

    def _section(self, node: Any) -> None:
        parent = self.current
        heading = node[0].astext() if node.children else ""
        ids = node.get("ids") or []
        section = Section(title=heading, anchor=ids[0] if ids else "",
                          heading_path=[*parent.heading_path, heading])
        self.sections.append(section)
        self.current = section
        for child in node.children[1:]:
            self.visit(child)
        self.current = parent

    def _directive(self, node: Any) -> None:
        name, argument = node["dv_directive"], node.get("dv_argument", "")
        if node.get("dv_note"):
            kind, version = node["dv_note"]
            self.current.notes.append(VersionNote(kind, version, node.astext()[:240]))
        if name in ("module", "currentmodule"):
            self.module = argument.strip()
            if name == "module" and self.module:
                self.current.symbols.append(SymbolDraft(name=self.module, kind="module"))
            return
        if name not in PY_DIRECTIVES or not argument:
            for child in node.children:
                self.visit(child)
            return
        self._python_object(node, name, argument)

    def _python_object(self, node: Any, name: str, argument: str) -> None:
        short = argument.split("(")[0].strip()
        prefix = ".".join(p for p in (self.module, *self.classes) if p)
        qualified = short if not prefix or short.startswith(prefix + ".") else f"{prefix}.{short}"
        params, var_kw = _rst_params(argument)
        draft = SymbolDraft(name=qualified, kind=PY_DIRECTIVES[name], params=params,
                            var_keyword=var_kw,
                            signature=argument[argument.find("("):] if "(" in argument else "")
        parent = self.current
        entry = Section(title=argument, anchor=qualified,
                        heading_path=[*parent.heading_path, qualified], symbols=[draft],
                        symbol=qualified)
        self.sections.append(entry)
        self.current = entry
        if name in ("class", "exception"):
            self.classes.append(short.rsplit(".", 1)[-1])
        for child in node.children:
            self.visit(child)
        if name in ("class", "exception"):
            self.classes.pop()
        from docvouch.ingest.signatures import symbol_notes

        draft.version_notes = symbol_notes(entry.notes)
        self.current = parent


def _rst_params(argument: str) -> tuple[list[str] | None, bool]:
    if "(" not in argument:
        return None, False
    inner = argument[argument.find("(") + 1: argument.rfind(")")]
    names: list[str] = []
    var_kw = False
    for raw in re.split(r",(?![^\[]*\])", inner.replace("[", ",").replace("]", "")):
        part = raw.strip()
        if part == "/":
            names = []
        elif part.startswith("**"):
            var_kw = True
        elif part and not part.startswith("*"):
            match = re.match(r"[A-Za-z_]\w*", part)
            if match and match.group(0) not in ("self", "cls"):
                names.append(match.group(0))
    return names, var_kw


# --- plain text --------------------------------------------------------------------------


def text_sections(text: str, fallback_title: str) -> tuple[str, list[Section]]:
    """Sections of a plain-text file: underlined or ``#`` headings, else one long section."""
    lines = text.split("\n")
    sections = [Section(title=fallback_title, heading_path=[fallback_title])]
    paragraph: list[str] = []
    code: list[str] = []

    def flush() -> None:
        if paragraph:
            sections[-1].add_line(" ".join(paragraph))
            paragraph.clear()
        if code:
            sections[-1].add_code("\n".join(code))
            code.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        atx = _ATX_RE.match(line)
        if line.strip() and _ADORNMENT_RE.match(nxt) and len(nxt.strip()) >= len(line.strip()) - 2:
            flush()
            sections.append(Section(title=line.strip(),
                                    heading_path=[fallback_title, line.strip()]))
            i += 2
            continue
        if atx:
            flush()
            sections.append(Section(title=atx.group(2),
                                    heading_path=[fallback_title, atx.group(2)]))
        elif not line.strip():
            if not code:
                flush()
        elif line.startswith(("    ", "\t")) and not paragraph:
            code.append(line[4:] if line.startswith("    ") else line[1:])
        else:
            if code:
                flush()
            paragraph.append(line.strip())
        i += 1
    flush()
    title = sections[1].title if len(sections) > 1 and sections[0].empty else fallback_title
    return title, sections
