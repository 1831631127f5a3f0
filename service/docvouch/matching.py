"""Claim × candidate passages → verdict, score, reason and evidence.

Signals, cheapest first: symbol checks (from ``symbols.py``), coverage of the claim's
content terms by a passage (set look-ups), rapidfuzz ``partial_ratio`` alignment on the
top-k passages only (about 30 µs a pair), and version notes against the versions the claim
states. Thresholds are named constants below; they were chosen on the *dev* split of the
labelled set (``bench/labelled``) and are reported on its *test* split.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz

from docvouch.claims import Claim
from docvouch.passages import Passage, VersionNote
from docvouch.symbols import SymbolCheck
from docvouch.tokenizer import content_terms

SUPPORTED_COVERAGE = 0.75  # share of the claim's content terms one passage must hold
SUPPORTED_ALIGNMENT = 0.60  # partial_ratio / 100 of the best aligned window
PARTIAL_COVERAGE = 0.35  # IDF-weighted; chosen on the dev split (bench/eval.py)
MIN_TERMS = 3  # prose with fewer content terms than this cannot be judged by overlap
SNIPPET_CHARS = 240
ALIGN_TOP = 3  # candidates per claim that get the rapidfuzz alignment
ALIGN_WINDOW = 800  # characters of a long passage aligned against (the densest stretch)
# Longer claims are aligned in pieces: partial_ratio's cost grows with the square of the
# needle (a 269-character claim took 0.56 ms a window, three 90-character pieces 0.14 ms),
# and rapidfuzz has a faster path for needles of up to 64 characters: against an
# 800-character window, 16 µs for 64 characters, 27 µs for 65, 53 µs for 128.
ALIGN_PIECE = 64
SIGNATURE_CANDIDATES = 5  # top BM25 passages whose signatures may state a default
VERDICT_WEIGHT = {"supported": 1.0, "partial": 0.5, "contradicted": 0.0}

_VERSION_VERBS = {
    "added": re.compile(r"\b(?:added|introduced|new|available since|since|appeared)\b", re.I),
    "deprecated": re.compile(r"\bdeprecat", re.I),
    "removed": re.compile(r"\bremoved\b", re.I),
    "changed": re.compile(r"\bchanged\b", re.I),
}


@dataclass(slots=True)
class Candidate:
    """A passage retrieved for a claim: its BM25 score, its term ids, the passage on demand.

    Coverage needs only the term ids (stored in the index); the passage record is decoded
    only for the few candidates that get aligned or shown as evidence.
    """

    index: int
    bm25: float
    terms: np.ndarray  # the passage's distinct term ids, ascending
    load: Callable[[int], Passage]
    _passage: Passage | None = None

    @property
    def passage(self) -> Passage:
        if self._passage is None:
            self._passage = self.load(self.index)
        return self._passage


@dataclass(slots=True)
class ClaimTerms:
    """A claim's content terms with their index ids (None: not in the corpus) and IDF weights.

    Coverage is IDF-weighted: a passage that holds "isoweekday" and "monday" covers more of
    a claim than one that holds "return" and "value".
    """

    ids: dict[str, int | None]
    weights: dict[str, float]
    _known_ids: np.ndarray = field(init=False)  # ids of the terms the corpus has, sorted
    _known_weights: np.ndarray = field(init=False)
    _total: float = field(init=False)

    def __post_init__(self) -> None:
        known = sorted((i, self.weights[t]) for t, i in self.ids.items() if i is not None)
        self._known_ids = np.array([i for i, _ in known], dtype=np.int64)
        self._known_weights = np.array([w for _, w in known], dtype=np.float64)
        self._total = float(sum(self.weights.values()))

    def _held(self, passage_terms: np.ndarray) -> np.ndarray:
        """Which known claim terms a passage holds (its term ids are sorted)."""
        if not len(self._known_ids) or not len(passage_terms):
            return np.zeros(len(self._known_ids), dtype=bool)
        at = np.searchsorted(passage_terms, self._known_ids)
        at[at == len(passage_terms)] = len(passage_terms) - 1
        return passage_terms[at] == self._known_ids

    def coverage_many(self, passages: list[np.ndarray]) -> list[float]:
        """Coverage of several passages (see :func:`coverage_batch`)."""
        return coverage_batch([self], [passages])[0]

    def coverage(self, passage_terms: np.ndarray) -> float:
        if not self._total:
            return 0.0
        return float(self._known_weights[self._held(passage_terms)].sum()) / self._total

    def missing(self, passage_terms: np.ndarray) -> set[str]:
        held_ids = set(self._known_ids[self._held(passage_terms)].tolist())
        return {t for t, i in self.ids.items() if i not in held_ids}


def coverage_batch(claims: list[ClaimTerms], passages: list[list[np.ndarray]]
                   ) -> list[list[float]]:
    """``claims[i]``'s coverage of each of ``passages[i]``, for every claim in one pass.

    Claim by claim, numpy's per-call overhead is most of the cost (an answer has a couple of
    dozen claims with a dozen candidates each), so every claim's term ids are shifted into a
    key range of their own and the whole answer is one sorted look-up and one sum.
    """
    segments = [len(p) for p in passages]
    out: list[list[float]] = [[0.0] * n for n in segments]
    arrays = [arr for group in passages for arr in group]
    if not arrays:
        return out
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    if not lengths.sum():
        return out
    owner = np.repeat(np.arange(len(claims), dtype=np.int64), segments)  # claim of each passage
    keys = np.concatenate([(np.int64(i) << 32) + c._known_ids for i, c in enumerate(claims)])
    weights = np.concatenate([c._known_weights for c in claims])
    flat = (np.repeat(owner, lengths) << 32) + np.concatenate(arrays).astype(np.int64)
    if len(keys):
        at = np.searchsorted(keys, flat)
        at[at == len(keys)] = 0
        held = np.where(keys[at] == flat, weights[at], 0.0)
    else:
        held = np.zeros(len(flat))
    sums = np.bincount(np.repeat(np.arange(len(arrays)), lengths), weights=held,
                       minlength=len(arrays))
    totals = np.array([c._total for c in claims], dtype=np.float64)[owner]
    shares = np.divide(sums, totals, out=np.zeros_like(sums), where=totals > 0).tolist()
    start = 0
    for group, n in zip(out, segments, strict=True):
        group[:] = shares[start:start + n]
        start += n
    return out


@dataclass(frozen=True, slots=True)
class AnswerScope:
    """What the whole answer says about its claims' subject."""

    modules: frozenset[str] = frozenset()  # top-level modules its code imports
    defined: frozenset[str] = frozenset()  # functions, classes, attributes its code defines


@dataclass(slots=True)
class Judgement:
    verdict: str
    score: float
    reason: str
    evidence: list[dict] = field(default_factory=list)


@dataclass(slots=True)
class _Scored:
    candidate: Candidate
    coverage: float
    alignment: float
    window: tuple[int, int]

    @property
    def match(self) -> float:
        return 0.6 * self.coverage + 0.4 * self.alignment


def judge(claim: Claim, terms: ClaimTerms, checks: list[SymbolCheck],
          candidates: list[Candidate], *, max_evidence: int = 3,
          coverages: list[float] | None = None,
          scope: AnswerScope | None = None) -> Judgement:
    """The verdict for one claim (``coverages``: of each candidate, when batched already;
    ``scope``: what the whole answer imports and defines)."""
    if coverages is None:
        coverages = terms.coverage_many([cand.terms for cand in candidates])
    scored = _score_candidates(claim, coverages, candidates)

    def evidence() -> list[dict]:  # built only on the paths that show it (snippets cost)
        return [_evidence(s, claim) for s in scored[:max_evidence] if s.match > 0.2]

    bad = [c for c in checks if c.contradicts]
    if bad:
        documented = [_symbol_evidence(c, candidates) for c in bad]
        return Judgement("contradicted", 0.05, "; ".join(c.reason for c in bad),
                         [e for e in documented if e] + evidence())
    conflict = (_version_conflict(claim, checks, scored)
                or _default_conflict(claim, checks, [s.candidate for s in scored] + candidates,
                                     scope or AnswerScope()))
    if conflict is not None:
        reason, ev = conflict
        return Judgement("contradicted", 0.1, reason, [ev, *evidence()])
    found = [c for c in checks if c.status == "found"]
    unverified = [c for c in checks if c.status == "unverified"]
    best = scored[0] if scored else None
    if claim.kind in ("code", "command") or (checks and not _has_prose_content(claim)):
        return _judge_code(found, unverified, best, evidence, candidates)
    return _judge_prose(terms, found, unverified, best, evidence, candidates)


def clear_caches() -> None:
    """Forget lower-cased passages too (benchmarks measure answers run cold)."""
    start_answer()
    _lower_haystack.cache_clear()


def start_answer() -> None:
    """Forget the previous answer's per-claim memo: it serves within one answer only, so a
    claim repeated across answers costs what it cost the first time."""
    _text_has_prose_content.cache_clear()


def settled_by_symbols(claim: Claim, checks: list[SymbolCheck]) -> bool:
    """Code whose every name is documented, with no version or default to compare: ``judge``
    calls it supported from the symbol table alone, so retrieval can skip it (its evidence
    is the symbols' own passages, which the caller always supplies)."""
    if not checks or claim.versions or _states_default(claim):
        return False
    if any(c.status != "found" for c in checks) or all(c.evidence_symbol is None for c in checks):
        return False
    return claim.kind in ("code", "command") or not _has_prose_content(claim)


def _judge_code(found: list[SymbolCheck], unverified: list[SymbolCheck], best: _Scored | None,
                evidence: Callable[[], list[dict]], candidates: list[Candidate]) -> Judgement:
    symbol_ev = [e for e in (_symbol_evidence(c, candidates) for c in found) if e]
    if found and not unverified:
        names = ", ".join(f"`{c.symbol.name}`" for c in found if c.symbol)
        return Judgement("supported", 0.95, f"{names} documented as used",
                         symbol_ev or evidence())
    if found:
        names = ", ".join(f"`{c.ref.name}`" for c in unverified)
        return Judgement("partial", 0.6, f"not in the docs: {names}", symbol_ev or evidence())
    if best is not None and best.match >= SUPPORTED_COVERAGE:
        return Judgement("partial", round(best.match, 3), "similar code is documented",
                         evidence())
    return Judgement("unsupported", 0.0, "nothing in the corpus speaks to this code", [])


def _judge_prose(terms: ClaimTerms, found: list[SymbolCheck], unverified: list[SymbolCheck],
                 best: _Scored | None, evidence: Callable[[], list[dict]],
                 candidates: list[Candidate]) -> Judgement:
    symbol_ev = [e for e in (_symbol_evidence(c, candidates) for c in found) if e]
    if best is None or best.coverage == 0.0:
        if found:
            return Judgement("partial", 0.5, "the names are documented; the statement is not",
                             symbol_ev)
        return Judgement("unsupported", 0.0, "nothing in the corpus speaks to this", [])
    strong = best.coverage >= SUPPORTED_COVERAGE and best.alignment >= SUPPORTED_ALIGNMENT
    if strong and not unverified:
        return Judgement("supported", round(best.match, 3),
                         f"stated in “{best.candidate.passage.title}”",
                         _merge_evidence(symbol_ev, evidence()))
    if best.coverage >= PARTIAL_COVERAGE or found:
        missing = terms.missing(best.candidate.terms)
        gap = f"; not found: {', '.join(sorted(missing)[:6])}" if missing else ""
        return Judgement("partial", round(best.match, 3),
                         f"related passage “{best.candidate.passage.title}”{gap}",
                         _merge_evidence(symbol_ev, evidence()))
    return Judgement("unsupported", round(best.match, 3),
                     "no passage states this", [])


def _merge_evidence(first: list[dict], rest: list[dict], *, limit: int = 3) -> list[dict]:
    """Evidence for the claim's own symbols first, then the best aligned passages."""
    seen: set[str] = set()
    out = []
    for ev in [*first, *rest]:
        key = ev["url"].split(":~:")[0]
        if key not in seen:
            seen.add(key)
            out.append(ev)
    return out[:limit]


def _has_prose_content(claim: Claim) -> bool:
    return _text_has_prose_content(claim.text)


@lru_cache(maxsize=1024)  # asked twice per claim: before retrieval and when judging
def _text_has_prose_content(text: str) -> bool:
    return len(content_terms(_strip_code(text))) >= MIN_TERMS


def _strip_code(text: str) -> str:
    return re.sub(r"`[^`]*`", " ", text)


def _score_candidates(claim: Claim, coverages: list[float], candidates: list[Candidate]
                      ) -> list[_Scored]:
    needle = claim.plain.lower()
    covered = [(cov, cand) for cov, cand in zip(coverages, candidates, strict=True) if cov > 0]
    # Alignment is the expensive signal (~30 µs per 1,200 characters): only the passages
    # that already cover the claim best get it.
    covered.sort(key=lambda pair: (-pair[0], -pair[1].bm25))
    if claim.kind != "prose" and claim.symbols:
        # code is judged by its symbols, and its evidence is the symbol's own passage
        return [_Scored(cand, cov, 0.0, (0, 0)) for cov, cand in covered[:ALIGN_TOP]]
    out = []
    probes = _probe_words(needle)
    pieces = _needle_pieces(needle)
    foldable = needle.isascii() and FOLDED not in needle
    for coverage, cand in covered[:ALIGN_TOP]:
        offset, window = _best_window(_lower_haystack(cand.passage.title, cand.passage.text),
                                      probes)
        if foldable and not window.isascii():
            window = _NON_ASCII_RE.sub(FOLDED, window)
        score, (start, end) = _align(pieces, window)
        out.append(_Scored(cand, coverage, score, (offset + start, offset + end)))
    out.sort(key=lambda s: (-s.match, -s.candidate.bm25))
    return out


# Alignment compares claim characters with passage characters only. For a claim of ASCII
# characters and no NUL, a passage's non-ASCII characters equal none of them, and neither
# does a NUL in their place: every score and offset stays the same, while rapidfuzz then
# works on bytes (docs' curly quotes and dashes otherwise make an alignment take up to
# twice as long). Answers reach the engine without NULs (normalise_text).
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
FOLDED = "\x00"


def _needle_pieces(needle: str) -> list[str]:
    """The claim cut at spaces into near-equal pieces of at most ALIGN_PIECE characters."""
    if len(needle) <= ALIGN_PIECE:
        return [needle]
    count = -(-len(needle) // ALIGN_PIECE)
    pieces, start = [], 0
    for n in range(1, count):
        target = len(needle) * n // count
        cut = needle.rfind(" ", start + 1, target + 1)
        if cut > start:
            pieces.append(needle[start:cut])
            start = cut + 1
        else:  # no space in reach (a long identifier or URL): cut inside the word
            pieces.append(needle[start:target])
            start = target
    pieces.append(needle[start:])
    return [p for p in pieces if p]


def _align(pieces: list[str], window: str) -> tuple[float, tuple[int, int]]:
    """Alignment score in [0, 1] (the pieces' partial_ratio, weighted by length) and the
    span of the window it covers: all pieces' spans when they lie together, else the best
    piece's."""
    total = weighted = 0.0
    spans: list[tuple[float, int, int]] = []
    for piece in pieces:
        found = fuzz.partial_ratio_alignment(piece, window)
        total += len(piece)
        if found is not None:
            weighted += found.score * len(piece)
            spans.append((found.score, found.dest_start, found.dest_end))
    if not spans:
        return 0.0, (0, 0)
    start, end = min(s[1] for s in spans), max(s[2] for s in spans)
    if end - start > 2 * sum(len(p) for p in pieces):
        _, start, end = max(spans)
    return weighted / total / 100.0, (start, end)


_PROBE_WORD_RE = re.compile(r"[a-z_][a-z0-9_]{3,}")


def _probe_words(needle: str) -> list[str]:
    """Prefixes of the claim's longer words: cheap stand-ins for its stems."""
    return sorted({w[:6] for w in _PROBE_WORD_RE.findall(needle)})


def _best_window(lower: str, probes: list[str]) -> tuple[int, str]:
    """The stretch of a long (lower-cased) passage that mentions the claim's words most.

    Alignment cost grows with the passage; docstrings run to thousands of characters while
    the sentence that matters is one paragraph. Short passages are used whole.
    """
    if len(lower) <= ALIGN_WINDOW:
        return 0, lower
    # Windows only need the probes the passage has at all (most claims' words are not in
    # a given passage), and a window holding all of them cannot be beaten. The membership
    # tests run through map() so no Python frame runs per probe.
    present = list(filter(lower.__contains__, probes))
    best_start, best_hits = 0, -1
    step = ALIGN_WINDOW // 2
    for start in range(0, len(lower) - step, step):
        hits = sum(map(lower[start:start + ALIGN_WINDOW].__contains__, present))
        if hits > best_hits:
            best_start, best_hits = start, hits
            if hits == len(present):
                break
    return best_start, lower[best_start:best_start + ALIGN_WINDOW]


def _haystack(passage: Passage) -> str:
    return _haystack_of(passage.title, passage.text)


def _haystack_of(title: str, text: str) -> str:
    """What a passage is aligned against and clipped from: one layout for both, since the
    alignment's offsets are used to cut the evidence snippet."""
    return f"{title}\n{text}"


# One passage is often a candidate for several claims of an answer (lower-casing a
# passage with any non-ASCII character in it walks the slow path over all of it). The
# key's strings are the passage's own, so a hit compares them by identity.
@lru_cache(maxsize=128)
def _lower_haystack(title: str, text: str) -> str:
    return _haystack_of(title, text).lower()


def _version_conflict(claim: Claim, checks: list[SymbolCheck], scored: list[_Scored]
                      ) -> tuple[str, dict] | None:
    """A claim that dates something ("added in 3.6") against the documented note."""
    if not claim.versions:
        return None
    own: list[tuple[VersionNote, Passage]] = []
    for check in checks:
        if check.symbol is not None:
            own.extend((n, p.candidate.passage)
                       for p in scored[:1] for n in check.symbol.version_notes)
    # A page's notes date several features: a neighbour's note counts only when it is
    # about what the claim says (_note_relevance), or, bare, on a passage that holds a good
    # share of the claim's words.
    claim_terms = content_terms(claim.plain)
    about: list[tuple[float, int, VersionNote, Passage]] = []
    for s in scored[:3]:
        related = s.coverage >= PARTIAL_COVERAGE
        for note in s.candidate.passage.version_notes:
            relevance = _note_relevance(note, claim_terms)
            if relevance is not None and (relevance > BARE_NOTE_RELEVANCE or related):
                about.append((-relevance, len(about), note, s.candidate.passage))
    about.sort(key=lambda row: row[:2])
    for kind, verb in _VERSION_VERBS.items():
        if not verb.search(claim.plain):
            continue
        # The claim's own symbol dates it; a neighbour's note ("harmonic_mean: new in 3.6")
        # counts only when the symbol carries no note of that kind.
        documented = [(n, p) for n, p in own if n.kind == kind]
        if not documented:
            # prose verbs are loose: "since 3.7" agrees with "Changed in version 3.7:
            # dictionary order is guaranteed", and such a note dates "added" claims too
            if any(n.version in claim.versions for _, _, n, _ in about):
                return None
            documented = [(n, p) for rank, _, n, p in about
                          if n.kind == kind or (kind == "added" and n.kind == "changed"
                                                and -rank > BARE_NOTE_RELEVANCE)]
        if not documented:
            continue
        if any(n.version in claim.versions for n, _ in documented):
            return None
        note, passage = documented[0]
        reason = (f"the docs say {note.kind} in version {note.version}, "
                  f"the claim says {', '.join(claim.versions)}")
        return reason, {"title": passage.title, "url": passage.url,
                        "snippet": note.text or f"{kind} in version {note.version}",
                        "bm25": 0.0, "match": 1.0}
    return None


# Words every version note has: they say nothing about which feature it dates.
_NOTE_WORDS = frozenset(content_terms("new added changed deprecated removed version"))
BARE_NOTE_RELEVANCE = 0.25  # ranks a bare "New in version 3.10." after every named match


def _note_relevance(note: VersionNote, claim_terms: set[str]) -> float | None:
    """How much a note is about the claim: the share of its first sentence's words the claim
    holds, at least half ("The 'rb' prefix of raw bytes literals has been added" is not
    about f-strings); None if it is about something else. A bare note ("New in version
    3.10.") dates its passage's subject, or one of its items: it ranks last."""
    words = _note_words(note)
    if not words:
        return BARE_NOTE_RELEVANCE
    share = len(words & claim_terms) / len(words)
    return share if share >= 0.5 else None


def _note_words(note: VersionNote) -> set[str]:
    first = note.text.split(". ", 1)[0]
    return {t for t in content_terms(first) if t not in _NOTE_WORDS and not t[:1].isdigit()}


_DEFAULT_WORD_RE = re.compile(r"\bdefault(?:s|ed)?\b|\bleave (?:it|them|\S+) out\b", re.I)


def _mentions_default(text: str) -> bool:
    lower = text.lower()  # most claims hold neither word: skip the regex
    return ("default" in lower or "leave " in lower) and bool(_DEFAULT_WORD_RE.search(text))


def _states_default(claim: Claim) -> bool:
    """Prose that speaks of a default ("`maxsize` defaults to 128"). Inside code the word is
    a keyword argument (`json.dumps(obj, default=str)`, `max(xs, default=0)`): usage, not
    a statement about what happens when it is left out."""
    return (claim.kind == "prose" and _mentions_default(claim.text)
            and _mentions_default(_strip_code(claim.text)))


_SIG_DEFAULT_RE = re.compile(r"([A-Za-z_]\w*)=('[^']*'|\"[^\"]*\"|-?[\w.+-]+)")
# A number may end a sentence ("defaults to 8."), not a dotted name or version ("3.8.1");
# "1,000,000" and "1_000_000" are one number, and "1,5" is none. "none of them" is prose.
_NUMBER = r"-?\d{1,3}(?:[,_]\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:[eE]-?\d+)?"
_LITERAL_RE = re.compile(rf"(?<![\w.])(?<!\d,)({_NUMBER}|(?i:true|false)|None)(?!\w|\.\w|,\d)"
                         r"|[\"']([^\"'`]{1,20})[\"']")


class _Signature(NamedTuple):
    title: str
    url: str
    text: str
    own: bool  # of a name the claim uses (from the symbol table), not found by retrieval


def _default_conflict(claim: Claim, checks: list[SymbolCheck], candidates: list[Candidate],
                      scope: AnswerScope) -> tuple[str, dict] | None:
    """A claim that states a parameter's default ("`maxsize` defaults to 256") vs the signature."""
    if not _states_default(claim):
        return None
    # "defaults to 8 since Python 3.8": the version is not a value
    values = _claim_literals(claim.text) - {_normalise_literal(v) for v in claim.versions}
    if not values:
        return None
    words = re.findall(r"[a-z_][a-z0-9_]*", claim.text.lower())
    anchors = [i for i, w in enumerate(words) if w.startswith("default") or w == "leave"]
    in_code = {name.lower() for span in re.findall(r"`([^`]*)`", claim.text)
               for name in re.findall(r"[A-Za-z_]\w*", span)}
    # A claim that calls a name the symbol table cannot place, or names a class it cannot
    # place (`FileHandler`: logging's or urllib's), speaks of that callable: a signature
    # retrieval found for its words counts only when it is of a function of that name (an
    # undocumented `tool.approx()` is not `cmath.isclose`; `Fraction.limit_denominator()`
    # written without its module is `fractions.Fraction.limit_denominator`). A documented
    # name brings its own signature and restricts nothing.
    called = {c.ref.name.rsplit(".", 1)[-1] for c in checks if c.status != "found" and (
              c.ref.kind == "call" or (c.ref.kind == "mention" and c.ref.name[:1].isupper()))
              and c.ref.name not in scope.defined}  # the answer's own class is no library's
    for sig in _signatures(checks, candidates):
        if not sig.own and not _may_be_the_subject(sig.title, called, scope.modules):
            continue
        params = dict(_SIG_DEFAULT_RE.findall(sig.text))
        # the first parameter, in the order the claim most likely means them, whose
        # documented default is a value of a kind the claim states ("`buffering` is -1"
        # does not give the default of `mode`, whatever "mode" is nearer)
        param = next((p for p in _subject_params(list(params), words, anchors, in_code)
                      if _same_kind(params[p], values)), None)
        if param is None:
            continue
        default = params[param]
        if not _is_value(default):
            # a placeholder (`max(iterable, *[, default=obj])`): no value to compare; the
            # claim's own signature says so for good, a retrieved one may not be the subject
            if sig.own:
                return None
            continue
        if default == "None" and not sig.own:
            # None stands for a value the prose gives ("if omitted, level defaults to
            # INFO"): compared only in a signature of a name the claim itself uses
            continue
        if _normalise_literal(default) in values:
            return None  # the claim states the documented default
        shown = ", ".join(sorted(values))
        reason = f"the documented default of `{param}` is {default}, the claim says {shown}"
        return reason, {"title": sig.title, "url": sig.url, "snippet": sig.text,
                        "bm25": 0.0, "match": 1.0}
    return None


def _is_value(default: str) -> bool:
    """A default a claim can state: a number, True/False/None or any quoted string."""
    quoted = len(default) >= 2 and default[0] in "'\"" and default[-1] == default[0]
    return quoted or bool(_LITERAL_RE.fullmatch(default))


def _may_be_the_subject(title: str, called: set[str], answer_modules: frozenset[str]) -> bool:
    """Whether a signature retrieval found may be what the claim speaks of: of a name in
    ``called`` (the callables the claim names that the symbol table cannot place), if there
    are any; and a builtin's, or of a module the answer imports (an answer about `tarfile`
    does not mean `bz2.open`'s mode). Answers that import nothing leave every module open."""
    dotted = title.split("(", 1)[0]
    if called and dotted.rsplit(".", 1)[-1] not in called:
        return False
    if not answer_modules or "." not in dotted:
        return True
    head = dotted.split(".", 1)[0]
    return head in answer_modules or head in _BUILTIN_TYPES


_BUILTIN_TYPES = frozenset({"str", "bytes", "bytearray", "int", "float", "complex", "list",
                            "dict", "set", "frozenset", "tuple", "memoryview", "object"})


def _subject_params(params: list[str], words: list[str], anchors: list[int],
                    in_code: set[str]) -> list[str]:
    """The parameters the claim names, most likely subject first: those written as code
    (`n`, `sort_keys`) before plain words that happen to be a parameter's name ("mode",
    "a"), each group nearest a "default" word first. The "default" word itself never names
    the parameter `default`."""
    anchor_at = set(anchors)
    ranked = []
    for param in params:
        coded = param.lower() in in_code
        if not coded and len(param) == 1:
            continue
        distances = [min((abs(at - a) for a in anchors), default=0)
                     for at in _param_positions(param, words) if at not in anchor_at]
        if distances:
            ranked.append((not coded, min(distances), param))
    return [param for *_, param in sorted(ranked)]


def _value_kind(value: str) -> str:
    if value in ("True", "False"):
        return "bool"
    if value == "None":
        return "none"
    return "str" if value[:1] in "'\"" else "number"


def _same_kind(default: str, values: set[str]) -> bool:
    """Whether the claim states a value that could be this default: of its kind, or None
    (on either side: "no value" is said of anything)."""
    kind = _value_kind(_normalise_literal(default)) if _is_value(default) else "none"
    return kind == "none" or any(_value_kind(v) in (kind, "none") for v in values)


def _signatures(checks: list[SymbolCheck], candidates: list[Candidate]) -> list[_Signature]:
    """Signatures that may define the parameter: the claim's own symbols, the best aligned
    passages, then the best BM25 candidates (their titles carry the signature)."""
    out = []
    for check in checks:
        if check.symbol is not None and check.symbol.signature:
            out.append(_Signature(check.symbol.name, "",
                                  check.symbol.name + check.symbol.signature, own=True))
    best_aligned = candidates[:ALIGN_TOP]  # the caller puts the aligned candidates first
    by_bm25 = sorted(candidates[ALIGN_TOP:], key=lambda c: -c.bm25)[:SIGNATURE_CANDIDATES]
    for cand in best_aligned + by_bm25:
        title = cand.passage.title
        if "(" in title and "=" in title:
            out.append(_Signature(title, cand.passage.url, title, own=False))
    return out


def _param_positions(param: str, words: list[str]) -> list[int]:
    """Where ``exist_ok`` is named as such, or spelled out ("relative tolerance" for
    ``rel_tol``: every part starts a word; the position of the first part's word)."""
    name = param.lower()
    named = [i for i, w in enumerate(words) if w == name]
    if named:
        return named
    parts = [p for p in name.split("_") if p]
    if len(parts) < 2 or any(len(p) < 3 for p in parts):
        return []
    starts = [[i for i, w in enumerate(words) if w.startswith(p)] for p in parts]
    return starts[0] if all(starts) else []


def _claim_literals(text: str) -> set[str]:
    """Values the prose states: bare literals, in the text or alone in inline code.

    Code like `print("a", "b")` or `reverse=True` shows usage, not a default: skipped.
    """
    kept = []
    out = set()
    for m in re.finditer(r"`([^`]*)`", text):
        span = m.group(1).strip()
        if _LITERAL_RE.fullmatch(span):
            kept.append(span)
        elif _is_value(span):  # `''`, or a string too long for the prose pattern
            out.add(_normalise_literal(span))
    prose = " ".join([re.sub(r"`[^`]*`", " ", text), *kept])
    for match in _LITERAL_RE.finditer(prose):
        number_or_const, quoted = match.groups()
        if number_or_const and _in_expression(prose, match.start(), match.end()):
            continue  # "defaults to min(32, os.cpu_count() + 4)" states a formula, not 32
        out.add(_normalise_literal(number_or_const or f"'{quoted}'"))
    return out


def _in_expression(text: str, start: int, end: int) -> bool:
    """A number that is an operand or an argument: next to an operator, or between "(" and
    "," or "," and ")" (so the middle items of a prose list are skipped too: it errs
    towards saying nothing). A parenthesis alone is prose: "`maxsize` (default 128)".
    A dash after a number is punctuation as often as a minus: only one before counts."""
    before, after = text[:start].rstrip()[-1:], text[end:].lstrip()[:1]
    if before in ("+", "-", "*", "/") or after in ("+", "*", "/"):
        return True
    return (before, after) in (("(", ","), (",", ")"), (",", ","))


def _normalise_literal(raw: str) -> str:
    raw = raw.strip()
    if raw.lower() in ("true", "false", "none"):
        return raw.capitalize()
    if raw[:1] in "'\"" and raw[-1:] in "'\"":
        return "'" + raw[1:-1] + "'"
    try:
        return repr(float(raw.replace(",", "")))  # float() reads "1_000" but not "1,000"
    except ValueError:
        return raw


def _symbol_evidence(check: SymbolCheck, candidates: list[Candidate]) -> dict | None:
    symbol = check.evidence_symbol
    if symbol is None:
        return None
    for cand in candidates:
        if cand.index == symbol.passage:
            text = cand.passage.text
            return {"title": cand.passage.title, "url": cand.passage.url,
                    "snippet": _clip(text, 0, min(len(text), SNIPPET_CHARS)),
                    "bm25": round(cand.bm25, 3), "match": 1.0}
    return None


def _evidence(scored: _Scored, claim: Claim) -> dict:
    passage = scored.candidate.passage
    hay = _haystack(passage)
    start, end = scored.window
    snippet = _clip(hay, start, end)
    return {
        "title": passage.title,
        "url": with_text_fragment(passage.url, snippet),
        "snippet": snippet,
        "bm25": round(scored.candidate.bm25, 3),
        "match": round(scored.match, 3),
    }


def _clip(text: str, start: int, end: int) -> str:
    """A snippet of about SNIPPET_CHARS around [start, end), cut at word boundaries."""
    pad = max(0, (SNIPPET_CHARS - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    while lo > 0 and not text[lo - 1].isspace():
        lo -= 1
    while hi < len(text) and not text[hi].isspace():
        hi += 1
    snippet = " ".join(text[lo:hi].split())
    return ("… " if lo > 0 else "") + snippet + (" …" if hi < len(text) else "")


# Percent-encoding of a text directive: unreserved characters stay, everything else
# (including "-", "&" and ",", which are syntax inside a directive) becomes %XX. A table
# look-up per byte (str.translate for ASCII) beats urllib's quote 2-10x; every evidence
# link needs one.
_FRAGMENT_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~")
_FRAGMENT_BYTE = [chr(b) if b in _FRAGMENT_SAFE else f"%{b:02X}" for b in range(256)]
_FRAGMENT_ASCII = {b: f"%{b:02X}" for b in range(128) if b not in _FRAGMENT_SAFE}


def with_text_fragment(url: str, snippet: str, *, words: int = 6) -> str:
    """``url`` plus a ``:~:text=`` directive for the first words of the snippet."""
    plain = " ".join(snippet.replace("…", " ").split()[:words])
    if not plain:
        return url
    if plain.isascii():  # most snippets: one C-level pass
        directive = plain.translate(_FRAGMENT_ASCII)
    else:
        directive = "".join([_FRAGMENT_BYTE[b] for b in plain.encode("utf-8")])
    joiner = ":~:text=" if "#" in url else "#:~:text="
    return f"{url}{joiner}{directive}"


def answer_score(verdicts: list[str]) -> int | None:
    """0-100 over checkable claims (unsupported ones do not count); None if none were."""
    weights = [VERDICT_WEIGHT[v] for v in verdicts if v in VERDICT_WEIGHT]
    if not weights:
        return None
    total: float = sum(weights)  # named: mypyc (accel.py) mistypes sum() inside the formula
    return round(100 * total / len(weights))
