"""Answer text (markdown) → claims, each with the exact character span it came from.

Prose paragraphs, list items and table rows are split into sentences; inline code is
attached to its sentence as symbol references. Fenced code gives one ``code`` claim per
line that uses a documented-looking name (parsed with :mod:`ast`, with a tolerant regex
fallback for broken code and other languages) and one ``command`` claim per shell line.
Greetings, questions and filler are not claims. Pure functions: no I/O, no index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from docvouch import code_refs
from docvouch.code_refs import SymbolRef

ClaimKind = Literal["prose", "code", "command"]

# Block structure only: claims come from block spans, so inline children (emphasis, links)
# are never read and their parse (half the time) is switched off.
_MD = MarkdownIt("commonmark").enable("table").disable("inline")
_SHELL_LANGS = frozenset({"bash", "sh", "shell", "console", "zsh", "terminal", "shell-session",
                          "powershell", "ps", "cmd", "bat", "fish"})
_SHELL_START_RE = re.compile(r"^(?:\$ |sudo |pip3? |python3? -m |git |npm |apt(?:-get)? |curl )")
_PY_LANGS = frozenset({"python", "py", "python3", "pycon", "ipython", ""})
_LINE_PREFIX_RE = re.compile(r"^[ \t]*(?:>[ \t]?)*[ \t]*(?:[-*+][ \t]+|\d{1,9}[.)][ \t]+)?"
                             r"(?:\[[ xX]\][ \t]+)?(?:#{1,6}[ \t]+)?")
# A sentence ends at . ! ? (optionally closed by a quote/bracket) followed by space and a
# capital, digit, backtick or markup; "e.g." and friends are masked first.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9`*_\[(\"'])")
# The leading class lets the regex engine skip most positions before trying the
# case-insensitive alternatives (3x faster on answers than the bare alternation).
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "incl.", "mr.", "ms.", "dr.",
                  "no.")  # what _ABBREVIATIONS_RE matches, as substrings
_ABBREVIATIONS_RE = re.compile(
    r"(?=[eicvamdn])\b(?:e\.g|i\.e|etc|vs|cf|approx|incl|Mr|Ms|Dr|No)\.", re.I)
_INLINE_CODE_RE = re.compile(r"(`+)(.+?)\1", re.S)
# The same spans where no two backticks touch (nearly every answer): a character class
# instead of a lazy scan that tries the back-reference at every character, 7x faster.
_SINGLE_TICK_CODE_RE = re.compile(r"(`)([^`]+)`")


def _inline_code(text: str) -> re.Pattern[str]:
    """The inline-code pattern for ``text`` (groups: the backticks, the code)."""
    return _SINGLE_TICK_CODE_RE if "``" not in text else _INLINE_CODE_RE
_MARKUP_RE = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|\[([^\]]*)\]\([^)]*\)")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]+")
_VERSION_RE = re.compile(
    r"\b(?:python|version|v|since|in|from|added|removed|deprecated|before|after|until|as of)"
    r"\s*(?:version\s*)?([23]\.\d{1,2})(?:\.\d+)?\+?",
    re.I,
)
_NUMBER_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]*\w)")
# Cheap pre-checks: most sentences have no version, no digit, no markup, and the scans
# above (case-insensitive alternations, look-arounds at every position) cost ~40 µs each.
_VERSION_HINT_RE = re.compile(r"[23]\.\d")
_DIGIT_RE = re.compile(r"\d")
FILLER_RE = re.compile(
    r"^(?:sure|certainly|of course|absolutely|great question|good question|happy coding|"
    r"hope (?:this|that) helps|i hope|let me know|feel free|here(?:'s| is| are)\b.*:$|"
    r"here(?:'s| is| are)\b|"
    r"in summary|to summarize|thanks|thank you|you're welcome|no problem|glad)",
    re.I,
)


@dataclass(slots=True)
class Claim:
    """One checkable statement of the answer."""

    id: str
    text: str  # as written in the answer (the span's text, whitespace-normalised)
    span: tuple[int, int]  # [start, end) character offsets into the answer
    kind: ClaimKind
    plain: str  # markup stripped, for matching
    symbols: list[SymbolRef] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ClaimSet:
    claims: list[Claim]
    truncated: bool
    imported_modules: frozenset[str] = frozenset()  # top-level modules the answer's code imports
    defined_names: frozenset[str] = frozenset()  # functions, methods, attributes it defines


def extract_claims(text: str, *, max_claims: int = 200, max_claim_chars: int = 1000) -> ClaimSet:
    """All claims of a markdown answer, in reading order, at most ``max_claims``."""
    lines = _line_starts(text)
    tokens = _MD.parse(text)
    claims: list[Claim] = []
    imports: dict[str, str] = {}
    # Imports anywhere in the answer's code give aliases for names used in prose too.
    for tok in tokens:
        if tok.type in ("fence", "code_block"):
            imports.update(code_refs.import_aliases(tok.content))
    context = code_refs.RefContext(aliases=imports)
    code_refs.learn_names(
        [t.content for t in tokens if t.type in ("fence", "code_block")], context)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            i += 3  # headings name topics; they claim nothing
            continue
        if tok.type == "inline" and tok.map is not None and _in_paragraph(tokens, i):
            start, end = _block_span(text, lines, tok.map)
            claims.extend(_sentences(text, start, end, context))
        elif tok.type == "tr_open" and tok.map is not None:
            row_cells, i = _table_row(tokens, i)
            if not _is_header_row(tokens, i):
                start, end = _block_span(text, lines, tok.map)
                claims.extend(_row_claim(text, start, end, row_cells, context))
        elif tok.type in ("fence", "code_block") and tok.map is not None:
            claims.extend(_code_claims(text, tok, lines, context))
        i += 1
    claims = [c for c in claims if c.text]
    truncated = len(claims) > max_claims
    claims = claims[:max_claims]
    for n, claim in enumerate(claims, 1):
        claim.id = f"c{n}"
        if len(claim.text) > max_claim_chars:
            claim.text = claim.text[:max_claim_chars]
            claim.plain = claim.plain[:max_claim_chars]
            claim.span = (claim.span[0], claim.span[0] + max_claim_chars)
            truncated = True
    modules = frozenset(target.split(".", 1)[0] for target in imports.values())
    return ClaimSet(claims, truncated, modules, frozenset(context.defined))


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    starts.append(len(text) + 1)
    return starts


def _block_span(text: str, lines: list[int], line_map: list[int]) -> tuple[int, int]:
    first, last = line_map
    start = lines[min(first, len(lines) - 1)]
    end = min(lines[min(last, len(lines) - 1)], len(text))
    return start, end


def _in_paragraph(tokens: list[Token], i: int) -> bool:
    return i > 0 and tokens[i - 1].type == "paragraph_open"


def _is_header_row(tokens: list[Token], i: int) -> bool:
    # The row sits inside thead when the nearest enclosing section opener is thead_open.
    for tok in reversed(tokens[:i]):
        if tok.type in ("thead_open", "tbody_open"):
            return tok.type == "thead_open"
    return False


def _table_row(tokens: list[Token], i: int) -> tuple[list[str], int]:
    cells: list[str] = []
    while i < len(tokens) and tokens[i].type != "tr_close":
        if tokens[i].type == "inline":
            cells.append(tokens[i].content)
        i += 1
    return cells, i


def _masked_block(text: str, start: int, end: int) -> str:
    """The block's text with list markers, quote marks and inline code masked by spaces."""
    block = text[start:end]
    out = []
    for line in block.splitlines(keepends=True):
        prefix = _LINE_PREFIX_RE.match(line)
        cut = prefix.end() if prefix else 0
        out.append(" " * cut + line[cut:])
    masked = "".join(out)
    # Code keeps its first backtick (a sentence may start with it) and loses its dots.
    if "`" in masked:
        masked = _inline_code(masked).sub(lambda m: "`" + "x" * (len(m.group(0)) - 1), masked)
    if "." not in masked or (masked.isascii() and not _may_abbreviate(masked.lower())):
        return masked
    return _ABBREVIATIONS_RE.sub(lambda m: m.group(0)[:-1] + " ", masked)


def _may_abbreviate(lower: str) -> bool:
    # ASCII only: there lower() is exactly the regex's case-insensitivity
    return any(abbreviation in lower for abbreviation in _ABBREVIATIONS)


def _sentences(text: str, start: int, end: int, ctx: code_refs.RefContext) -> list[Claim]:
    masked = _masked_block(text, start, end)
    claims = []
    cursor = 0
    bounds = [m.start() for m in _SENTENCE_END_RE.finditer(masked)] + [len(masked)]
    for bound in bounds:
        piece = masked[cursor:bound]
        lead = len(piece) - len(piece.lstrip())
        s, e = start + cursor + lead, start + cursor + len(piece.rstrip())
        cursor = bound
        if e > s:
            claim = _prose_claim(text, s, e, ctx)
            if claim is not None:
                claims.append(claim)
    return claims


def _row_claim(text: str, start: int, end: int, cells: list[str],
               ctx: code_refs.RefContext) -> list[Claim]:
    raw = text[start:end].strip()
    s = start + text[start:end].find(raw[:1]) if raw else start
    claim = _prose_claim(text, s, s + len(raw), ctx, plain_override=" ; ".join(cells))
    return [claim] if claim else []


def strip_markup(raw: str) -> str:
    """Plain text of a markdown fragment: inline code unwrapped, emphasis and links removed."""
    plain = _inline_code(raw).sub(lambda m: m.group(2), raw) if "`" in raw else raw
    if "*" in plain or "_" in plain or "[" in plain:
        plain = _MARKUP_RE.sub(lambda m: m.group(1) or "", plain)
    return " ".join(plain.split())


def is_filler(plain: str, has_symbols: bool) -> bool:
    """Greetings, offers, questions and contentless sentences are not claims."""
    if has_symbols:
        return False
    stripped = plain.strip()
    if not stripped or stripped.endswith("?") or FILLER_RE.match(stripped):
        return True
    return len(_WORD_RE.findall(stripped)) < 4


def _prose_claim(text: str, s: int, e: int, ctx: code_refs.RefContext,
                 *, plain_override: str | None = None) -> Claim | None:
    raw = text[s:e]
    if "`" in raw:
        code = _inline_code(raw)
        refs = [ref for m in code.finditer(raw)
                for ref in code_refs.inline_refs(m.group(2), ctx)]
        refs += code_refs.prose_refs(code.sub(" ", raw), ctx)
    else:
        refs = code_refs.prose_refs(raw, ctx)
    plain = strip_markup(plain_override if plain_override is not None else raw)
    if is_filler(plain, bool(refs)):
        return None
    return Claim(
        id="", text=" ".join(raw.split()), span=(s, e), kind="prose", plain=plain,
        symbols=_dedupe(refs), versions=_versions(plain), numbers=_numbers(plain),
    )


def _versions(plain: str) -> list[str]:
    if not _VERSION_HINT_RE.search(plain):
        return []
    return sorted(set(_VERSION_RE.findall(plain)))


def _numbers(plain: str) -> list[str]:
    if not _DIGIT_RE.search(plain):
        return []
    without_versions = _VERSION_RE.sub(" ", plain) if _VERSION_HINT_RE.search(plain) else plain
    return sorted(set(_NUMBER_RE.findall(without_versions)))


def _dedupe(refs: list[SymbolRef]) -> list[SymbolRef]:
    seen: dict[tuple[str, tuple[str, ...]], SymbolRef] = {}
    for ref in refs:
        seen.setdefault((ref.name, tuple(ref.keywords)), ref)
    return list(seen.values())


def _code_claims(text: str, tok, lines: list[int], ctx: code_refs.RefContext) -> list[Claim]:
    lang = (tok.info or "").strip().split(" ")[0].lower()
    first_line = tok.map[0] + (1 if tok.type == "fence" else 0)
    body_start = lines[min(first_line, len(lines) - 1)]
    body = tok.content
    # markdown-it reports the content with the fence's indentation removed; find it verbatim
    found = text.find(body, body_start) if body else -1
    if found >= 0:
        body_start = found
    shell_like = lang in _SHELL_LANGS or (
        lang not in _PY_LANGS and _looks_like_shell(body)) or _all_prompt_lines(body)
    claims: list[Claim] = []
    if shell_like:
        for offset, line, refs in code_refs.command_lines(body):
            s = body_start + offset
            claims.append(Claim(id="", text=line, span=(s, s + len(line)), kind="command",
                                plain=line, symbols=refs))
        return claims
    for offset, length, snippet, refs in code_refs.code_lines(body, ctx):
        s = body_start + offset
        claims.append(Claim(id="", text=" ".join(snippet.split()), span=(s, s + length),
                            kind="code", plain=snippet, symbols=_dedupe(refs)))
    return claims


def _looks_like_shell(body: str) -> bool:
    first = body.lstrip().split("\n", 1)[0]
    return bool(_SHELL_START_RE.match(first))


def _all_prompt_lines(body: str) -> bool:
    lines = [ln for ln in body.splitlines() if ln.strip()]
    return bool(lines) and all(ln.lstrip().startswith("$ ") for ln in lines)
