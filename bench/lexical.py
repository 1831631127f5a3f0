"""A parametrised twin of the index's Lucene BM25, for choosing parameters on train queries.

``docvouch.index.build_index`` fixes k1 = 1.2, b = 0.75 and indexes a passage's title twice.
Tuning those on SciFact's *train* qrels needs many builds; writing an index directory for
each (files, fsync, checksums) would take minutes, so this module keeps the same scoring in
memory and lets k1, b, the title weight and the prose analyzer vary:

    idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
    tf(t, d) = w · tf_title + tf_text               (w = title weight; the index uses 2)
    |d|      = w · |title| + |text|
    score    = Σ_query-terms  count(t) · idf(t) · tf / (tf + k1 · (1 - b + b · |d| / avg|d|))

The benchmark checks that with the index's own settings the twin ranks exactly as the
built index does, so a parameter chosen here is one ``build_index`` would get if it took
the option (proposed to the lead; ``service/docvouch`` is not changed by the benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from bm25s.stopwords import STOPWORDS_EN_PLUS

from docvouch.tokenizer import TOKEN_RE, expand_token, tokenize

EXTRA_STOP_WORDS = frozenset(w.lower() for w in STOPWORDS_EN_PLUS)


def _code_shaped(raw: str) -> bool:
    """Flags, dotted or underscored names and inner capitals: never a prose stop word."""
    if raw.startswith("-") or "." in raw or "_" in raw:
        return True
    return any(c.isupper() for c in raw[1:]) and any(c.islower() for c in raw)


@dataclass(frozen=True)
class Analyzer:
    """How text becomes terms: the project's tokenizer, optionally with more prose stop words.

    Code-shaped tokens (dotted, underscored, camelCase, flags) are never dropped: the
    extra list applies to plain prose words only, as a tokenizer option would.
    """

    name: str
    extra_stop: frozenset[str] = field(default_factory=frozenset)

    def terms(self, text: str) -> list[str]:
        if not self.extra_stop:
            return tokenize(text)
        out: list[str] = []
        for raw in TOKEN_RE.findall(text):
            if raw.lower() in self.extra_stop and not _code_shaped(raw):
                continue
            out.extend(expand_token(raw))
        return out


PROJECT = Analyzer("project tokenizer")
MORE_STOP_WORDS = Analyzer("project tokenizer + 179 English stop words (bm25s list)",
                           EXTRA_STOP_WORDS)
ANALYZERS = (PROJECT, MORE_STOP_WORDS)


@dataclass(frozen=True)
class Params:
    """One point of the grid."""

    analyzer: Analyzer
    title_weight: int
    k1: float
    b: float

    def label(self) -> str:
        return (f"{self.analyzer.name}, title ×{self.title_weight}, "
                f"k1={self.k1:g}, b={self.b:g}")


class FieldIndex:
    """Per-(term, document) title and text frequencies of one analyzed corpus."""

    def __init__(self, titles: Sequence[str], texts: Sequence[str], analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.n_docs = len(titles)
        self.vocab: dict[str, int] = {}
        keys_title, keys_text = [], []
        self.len_title = np.zeros(self.n_docs, dtype=np.float64)
        self.len_text = np.zeros(self.n_docs, dtype=np.float64)
        for doc, (title, text) in enumerate(zip(titles, texts, strict=True)):
            t_terms = analyzer.terms(title)
            x_terms = analyzer.terms(text)
            if not t_terms and not x_terms:  # the index counts an empty passage as one term
                x_terms = ["<empty>"]
            self.len_title[doc] = len(t_terms)
            self.len_text[doc] = len(x_terms)
            keys_title.extend(self._id(t) * self.n_docs + doc for t in t_terms)
            keys_text.extend(self._id(t) * self.n_docs + doc for t in x_terms)
        k_title, c_title = np.unique(np.asarray(keys_title, dtype=np.int64), return_counts=True)
        k_text, c_text = np.unique(np.asarray(keys_text, dtype=np.int64), return_counts=True)
        keys = np.union1d(k_title, k_text)
        self.tf_title = np.zeros(len(keys))
        self.tf_text = np.zeros(len(keys))
        self.tf_title[np.searchsorted(keys, k_title)] = c_title
        self.tf_text[np.searchsorted(keys, k_text)] = c_text
        self.term, self.doc = np.divmod(keys, self.n_docs)
        n_vocab = len(self.vocab)
        df = np.bincount(self.term, minlength=n_vocab)
        self.idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
        self.indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=self.indptr[1:])

    def _id(self, term: str) -> int:
        return self.vocab.setdefault(term, len(self.vocab))

    def matrix(self, title_weight: int, k1: float, b: float) -> sp.csr_matrix:
        """The (vocabulary × documents) score matrix, float32 like the index's."""
        tf = title_weight * self.tf_title + self.tf_text
        lengths = title_weight * self.len_title + self.len_text
        norm = k1 * (1 - b + b * lengths[self.doc] / lengths.mean())
        scores = (self.idf[self.term] * tf / (tf + norm)).astype(np.float32)
        return sp.csr_matrix((scores, self.doc.astype(np.int32), self.indptr),
                             shape=(len(self.vocab), self.n_docs))

    def query_matrix(self, queries: Sequence[str]) -> sp.csr_matrix:
        rows, cols, vals = [], [], []
        for row, text in enumerate(queries):
            counts: dict[int, int] = {}
            for term in self.analyzer.terms(text):
                term_id = self.vocab.get(term)
                if term_id is not None:
                    counts[term_id] = counts.get(term_id, 0) + 1
            for term_id, count in counts.items():
                rows.append(row)
                cols.append(term_id)
                vals.append(count)
        return sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                             shape=(len(queries), len(self.vocab)))


def top_k(scores: np.ndarray, k: int) -> list[list[int]]:
    """Per row, the ``k`` best columns with a positive score: score desc, then column asc."""
    k = min(k, scores.shape[1])
    if k == 0:
        return [[] for _ in range(scores.shape[0])]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)  # column order first, so the stable sort below breaks ties by column
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    ranked = np.take_along_axis(part, order, axis=1)
    positive = np.take_along_axis(vals, order, axis=1) > 0
    return [row[keep].tolist() for row, keep in zip(ranked, positive, strict=True)]


def search(matrix: sp.csr_matrix, queries: sp.csr_matrix, k: int) -> list[list[int]]:
    """Top-``k`` document indices per query (one sparse product per batch of 256)."""
    out: list[list[int]] = []
    for start in range(0, queries.shape[0], 256):
        dense = (queries[start:start + 256] @ matrix).toarray()
        out.extend(top_k(dense, k))
    return out
