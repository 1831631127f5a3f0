"""Top-k selection of a score row equals a full sort (score descending, then passage id)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from docvouch.index import Index


def _reference(docs: np.ndarray, vals: np.ndarray, k: int) -> list[tuple[int, float]]:
    ranked = sorted(zip(docs.tolist(), vals.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    return [(d, v) for d, v in ranked[:k] if v > 0]


@settings(max_examples=200, deadline=None)
@given(size=st.integers(0, 4000), levels=st.integers(1, 1000), k=st.integers(1, 30),
       seed=st.integers(0, 2**32 - 1))
def test_top_k_equals_a_full_sort(size: int, levels: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # few distinct levels: many ties, also at the cut between the k-th and the next
    vals = (rng.integers(1, levels + 1, size) / 7).astype(np.float32)
    docs = np.sort(rng.choice(100_000, size, replace=False)).astype(np.int32)
    indptr = np.array([0, size], dtype=np.int32)
    got = [(hit.passage, hit.bm25) for hit in Index._top_k(indptr, docs, vals, 0, k)]
    assert got == _reference(docs, vals.astype(np.float64), k)
