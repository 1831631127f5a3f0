"""The verification pipeline: answer text → claims → retrieve → match → verdicts → score.

One :class:`Engine` wraps one loaded index. It is synchronous and CPU-bound by design:
the HTTP service runs it in worker processes, the CLI and benchmarks call it directly.
"""

from __future__ import annotations

import time
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from docvouch import code_refs, matching
from docvouch.claims import Claim, extract_claims
from docvouch.code_refs import SymbolRef
from docvouch.errors import InputTooLargeError
from docvouch.index import Index
from docvouch.matching import (
    AnswerScope,
    Candidate,
    ClaimTerms,
    answer_score,
    coverage_batch,
    judge,
    settled_by_symbols,
)
from docvouch.symbols import SymbolCheck, SymbolTable
from docvouch.tokenizer import content_terms, tokenize

MAX_ANSWER_CHARS = 100_000
QUERY_TERMS = 12  # distinct terms per claim sent to BM25 (the rarest); chosen on the dev split
VERDICTS = ("supported", "partial", "unsupported", "contradicted")


def normalise_text(text: str) -> str:
    """NFC, no NULs or lone surrogates, Unix newlines: the text every span refers to."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return unicodedata.normalize("NFC", text)


class Engine:
    """A loaded corpus that verifies answers and searches passages."""

    def __init__(self, index: Index, *, passage_cache: int = 8192) -> None:
        self.index = index
        self.symbols = SymbolTable(index.symbols)
        # Popular sections recur across answers: keep their decoded records and term sets.
        self._passage = lru_cache(maxsize=passage_cache)(index.passage)
        self._terms = lru_cache(maxsize=passage_cache * 4)(index.passage_term_ids)
        self._corpus_version = str(index.corpus.get("version") or "")
        self._corpus_release = _release(self._corpus_version)

    def clear_caches(self) -> None:
        """Forget decoded passages and parsed snippets: the next answer runs cold (benchmarks)."""
        self._passage.cache_clear()
        self._terms.cache_clear()
        code_refs.clear_caches()
        matching.clear_caches()

    def claim_terms(self, text: str, *, terms: list[str] | None = None) -> ClaimTerms:
        """A claim's content terms, their ids in this index and their IDF weights.

        ``terms``: the text's tokens when the caller already has them."""
        # sorted: the weights are summed in this order, the same in every process
        names = sorted(content_terms(text) if terms is None else set(terms))
        ids = self.index.lookup(names)
        known = [term_id for term_id in ids if term_id is not None]
        idf = iter(self.index.idf[known].tolist())  # one numpy call, not one per term
        unseen = self.index.max_idf
        weights = {name: unseen if term_id is None else next(idf)
                   for name, term_id in zip(names, ids, strict=True)}
        return ClaimTerms(dict(zip(names, ids, strict=True)), weights)

    @classmethod
    def open(cls, directory: Path, *, verify_checksums: bool = True) -> Engine:
        """Load the index at ``directory`` (memory-mapped); refuses a corrupt one."""
        return cls(Index(directory, verify_checksums=verify_checksums))

    def info(self) -> dict[str, Any]:
        """Corpus name, version, counts and build time, as ``GET /v1/corpus`` reports."""
        manifest = self.index.manifest
        return {
            **manifest["corpus"],
            "passages": manifest["counts"]["passages"],
            "symbols": manifest["counts"]["symbols"],
            "vocabulary": manifest["counts"]["vocabulary"],
            "built_at": manifest["built_at"],
            "format_version": manifest["format_version"],
        }

    def search(self, query: str, *, k: int = 10) -> list[dict[str, Any]]:
        """Ranked passages for a free-text query."""
        out = []
        for hit in self.index.search(query, k=k):
            passage = self.index.passage(hit.passage)
            out.append({
                "id": passage.id, "title": passage.title, "url": passage.url,
                "snippet": " ".join(passage.text.split())[:240], "bm25": round(hit.bm25, 3),
                "source": passage.source, "version": passage.version,
            })
        return out

    def verify(self, text: str, *, top_k: int = 10, max_claims: int = 200,
               max_claim_chars: int = 1000, max_answer_chars: int = MAX_ANSWER_CHARS,
               ) -> dict[str, Any]:
        """Check every claim of an answer; the ``POST /v1/verify`` response body."""
        started = time.perf_counter()
        if len(text) > max_answer_chars:
            raise InputTooLargeError(
                f"the answer has {len(text):,} characters; the limit is {max_answer_chars:,}",
                limit=max_answer_chars, actual=len(text),
            )
        text = normalise_text(text)
        matching.start_answer()
        claim_set = extract_claims(text, max_claims=max_claims, max_claim_chars=max_claim_chars)
        claims = claim_set.claims
        # Calls on receivers of unknown type are checked against every documented class only
        # when the answer imports nothing the corpus does not document.
        in_corpus = all(module in self.symbols for module in claim_set.imported_modules)
        own = claim_set.defined_names
        scope = AnswerScope(claim_set.imported_modules, own)
        checks = []
        for claim in claims:
            later = self._later_than_corpus(claim.versions)
            checks.append([self._check(ref, in_corpus, own, later) for ref in claim.symbols])
        plain_terms = [tokenize(claim.plain) for claim in claims]
        # Code that only uses documented names is judged from the symbol table: no BM25.
        searched = [not settled_by_symbols(claim, claim_checks)
                    for claim, claim_checks in zip(claims, checks, strict=True)]
        candidates = self._retrieve(claims, plain_terms, checks, searched, top_k=top_k)
        terms = [self.claim_terms(claim.plain, terms=t)
                 for claim, t in zip(claims, plain_terms, strict=True)]
        coverages = coverage_batch(terms, [[c.terms for c in cands] for cands in candidates])
        results = []
        for claim, claim_terms, claim_checks, cands, covs in zip(
                claims, terms, checks, candidates, coverages, strict=True):
            judgement = judge(claim, claim_terms, claim_checks, cands, coverages=covs,
                              scope=scope)
            results.append(_claim_json(claim, claim_checks, judgement))
        summary = {"claims": len(results), **dict.fromkeys(VERDICTS, 0)}
        for result in results:
            summary[result["verdict"]] += 1
        return {
            "score": answer_score([r["verdict"] for r in results]),
            "summary": summary,
            "claims": results,
            "truncated": claim_set.truncated,
            "corpus": {"name": self.index.corpus.get("name"),
                       "version": self.index.corpus.get("version"),
                       "passages": self.index.size},
            "took_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    def _check(self, ref: SymbolRef, in_corpus: bool, own: frozenset[str],
               later: str | None = None) -> SymbolCheck:
        result = self.symbols.check(ref)
        if result.status == "unverified" and in_corpus and ref.name.rsplit(".", 1)[-1] not in own:
            result = self.symbols.check_method_anywhere(ref) or result
        if later is not None and result.status in ("unknown", "invalid_keyword"):
            # "3.11 has no `itertools.batched()`; it arrived in 3.12": these docs are older
            # than what the claim speaks of, so a name they lack may be right
            return SymbolCheck(ref, "unverified",
                               reason=f"not in these docs ({self._corpus_version}); the claim "
                                      f"speaks of version {later}")
        return result

    def _later_than_corpus(self, versions: list[str]) -> str | None:
        """The first version the claim names that is later than the corpus's, if any."""
        if not versions or self._corpus_release is None:
            return None
        for version in versions:
            release = _release(version)
            if release is not None and release > self._corpus_release:
                return version
        return None

    def _query_terms(self, claim: Claim, plain_terms: list[str]) -> list[str]:
        """The claim's rarest terms: common ones ("return", "file") touch most postings of
        the index and barely change which passages rank first."""
        terms = plain_terms + tokenize(" ".join(ref.name for ref in claim.symbols))
        names = list(set(terms))
        known = {t: i for t, i in zip(names, self.index.lookup(names), strict=True)
                 if i is not None}
        if len(known) <= QUERY_TERMS:
            return terms
        idf = dict(zip(known, self.index.idf[list(known.values())].tolist(), strict=True))
        # ties broken by the term itself: set order varies with the process's hash seed
        rarest = sorted(known, key=lambda t: (-idf[t], t))
        keep = set(rarest[:QUERY_TERMS])
        return [t for t in terms if t in keep]

    def _retrieve(self, claims: list[Claim], plain_terms: list[list[str]],
                  checks: list[list[SymbolCheck]], searched: list[bool], *, top_k: int
                  ) -> list[list[Candidate]]:
        """BM25 top-k for the ``searched`` claims in one batch, plus the passages documenting
        every claim's symbols (their ``bm25`` is 0 unless BM25 ranked them too)."""
        queries = [self._query_terms(claim, terms) if search else []
                   for claim, terms, search in zip(claims, plain_terms, searched, strict=True)]
        ranked = self.index.search_terms(queries, k=top_k)
        out: list[list[Candidate]] = []
        for hits, claim_checks in zip(ranked, checks, strict=True):
            wanted = [(h.passage, h.bm25) for h in hits]
            seen = {p for p, _ in wanted}
            for check in claim_checks:
                symbol = check.evidence_symbol
                if symbol is not None and symbol.passage not in seen:
                    wanted.append((symbol.passage, 0.0))
                    seen.add(symbol.passage)
            cands = [Candidate(index, score, self._terms(index), self._passage)
                     for index, score in wanted]
            out.append(cands)
        return out


def _claim_json(claim: Claim, checks: list[SymbolCheck], judgement: Any) -> dict[str, Any]:
    suggestions = [c.suggestion for c in checks if c.suggestion and c.contradicts]
    out = {
        "id": claim.id,
        "text": claim.text,
        "span": list(claim.span),
        "kind": claim.kind,
        "verdict": judgement.verdict,
        "score": judgement.score,
        "reason": judgement.reason,
        "symbols": [c.to_json() for c in checks],
        "evidence": judgement.evidence,
    }
    if suggestions:
        out["suggestion"] = suggestions[0]
    return out


def _release(version: str) -> tuple[int, ...] | None:
    """"3.11" → (3, 11); None for what is not a dotted release number ("latest", "")."""
    parts = version.split(".")
    if not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)
