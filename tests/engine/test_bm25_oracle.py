"""The serving BM25 (bm25s, mmap, batched sparse product) against rank-bm25 as the oracle.

rank-bm25 ships Okapi/L/Plus; our serving variant is Lucene's (idf = ln(1 + (N-df+.5)/(df+.5)),
no (k1+1) factor). The oracle subclasses rank-bm25's ``BM25`` so corpus statistics (doc
frequencies, lengths, average length) are rank-bm25's own and only the formula is Lucene's.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25

from docvouch.index import BM25_B, BM25_K1, Index, build_index, passage_terms
from docvouch.passages import Passage
from docvouch.tokenizer import tokenize

SAMPLE = 2000


class LuceneBM25(BM25):
    """rank-bm25 statistics, Lucene scoring: the reference the fast path must equal."""

    def __init__(self, corpus: list[list[str]]) -> None:
        super().__init__(corpus)

    def _calc_idf(self, nd: dict[str, int]) -> None:
        self.idf = {w: math.log(1 + (self.corpus_size - df + 0.5) / (df + 0.5))
                    for w, df in nd.items()}

    def get_scores(self, query: list[str]) -> np.ndarray:
        scores = np.zeros(self.corpus_size)
        lengths = np.array(self.doc_len)
        for term in query:
            freq = np.array([doc.get(term, 0) for doc in self.doc_freqs])
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / self.avgdl)
            scores += self.idf.get(term, 0.0) * freq / (freq + norm)
        return scores


@pytest.fixture(scope="module")
def sample(engine) -> list[Passage]:
    rng = random.Random(7)
    picks = sorted(rng.sample(range(engine.index.size), SAMPLE))
    return [engine.index.passage(i) for i in picks]


@pytest.fixture(scope="module")
def queries(sample: list[Passage]) -> list[list[str]]:
    rng = random.Random(11)
    fixed = ["create intermediate directories", "os.path.join", "sort a list in reverse",
             "exist_ok", "--force-with-lease", "json dumps indent", "PriorityQueue maxsize"]
    drawn = [" ".join(rng.sample(p.text.split(), min(6, len(p.text.split()))))
             for p in rng.sample(sample, 43)]
    return [tokenize(q) for q in fixed + drawn]


@pytest.fixture(scope="module", params=["float64", "float32"])
def built(request, sample, tmp_path_factory) -> tuple[Index, str]:
    directory = tmp_path_factory.mktemp("oracle") / "index"
    build_index(Path(directory), sample, [], corpus={"name": "sample"}, dtype=request.param)
    return Index(Path(directory)), request.param


def test_scores_and_top10_equal_rank_bm25(built, sample, queries) -> None:
    index, dtype = built
    oracle = LuceneBM25([passage_terms(p) or ["<empty>"] for p in sample])
    rtol = 1e-6 if dtype == "float64" else 2e-6
    ranked = index.search_terms(queries, k=10)
    checked = 0
    for terms, hits in zip(queries, ranked, strict=True):
        expected = oracle.get_scores(terms)
        got = index.scores_for(terms)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-9)
        want = sorted(range(len(expected)), key=lambda i: (-expected[i], i))[:10]
        want = [i for i in want if expected[i] > 0]
        assert [h.passage for h in hits][: len(want)] == want or _ties_only(expected, hits, want)
        for hit in hits:
            assert hit.bm25 == pytest.approx(expected[hit.passage], rel=rtol)
        checked += 1
    assert checked == len(queries) >= 50


def _ties_only(expected: np.ndarray, hits, want: list[int]) -> bool:
    """Rankings may differ only where the oracle's scores tie (float32 rounding)."""
    got = [h.passage for h in hits][: len(want)]
    pairs = zip(got, want, strict=True)
    return all(math.isclose(expected[a], expected[b], rel_tol=1e-6) for a, b in pairs)


def test_batched_search_equals_one_query_at_a_time(built, queries) -> None:
    index, _ = built
    batched = index.search_terms(queries, k=10)
    single = [index.search_terms([q], k=10)[0] for q in queries]
    assert batched == single


def test_the_single_pass_product_equals_scipys_operator(built, queries, monkeypatch) -> None:
    from docvouch import index as index_module

    index, _ = built
    single_pass = index.search_terms(queries, k=10)
    monkeypatch.setattr(index_module, "_DIRECT_PRODUCT_MAX", -1)  # every batch: scipy's `@`
    assert index.search_terms(queries, k=10) == single_pass
    assert any(single_pass)


def test_parallel_build_scores_equal_the_sequential_build(sample, queries, tmp_path,
                                                          monkeypatch) -> None:
    from docvouch import index as index_module

    sequential = tmp_path / "sequential"
    build_index(sequential, sample, [], corpus={"name": "s"}, dtype="float64")
    monkeypatch.setattr(index_module, "PARALLEL_MIN_PASSAGES", 100)
    parallel = tmp_path / "parallel"
    build_index(parallel, sample, [], corpus={"name": "s"}, dtype="float64")
    a, b = Index(sequential), Index(parallel)
    for terms in queries:
        np.testing.assert_allclose(a.scores_for(terms), b.scores_for(terms), rtol=1e-12)
    names_a = {v: k for k, v in a._vocab.items()}
    names_b = {v: k for k, v in b._vocab.items()}
    for i in range(0, len(sample), 97):  # each passage holds the same terms in both builds
        assert {names_a[t] for t in a.passage_term_ids(i).tolist()} == \
            {names_b[t] for t in b.passage_term_ids(i).tolist()}
