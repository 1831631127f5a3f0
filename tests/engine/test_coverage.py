"""The vectorised coverage equals the one-passage-at-a-time reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from docvouch.matching import ClaimTerms, coverage_batch

term_ids = st.lists(st.integers(0, 60), unique=True, max_size=10)


@settings(max_examples=300, deadline=None)
@given(term_ids, st.lists(st.floats(0.01, 10), min_size=10, max_size=10),
       st.integers(0, 3), st.lists(st.lists(st.integers(0, 60), unique=True, max_size=25),
                                   min_size=1, max_size=8))
def test_coverage_many_equals_coverage(ids: list[int], weights: list[float], unknown: int,
                                       passages: list[list[int]]) -> None:
    terms = {f"t{i}": term_id for i, term_id in enumerate(ids)}
    terms.update({f"u{i}": None for i in range(unknown)})  # terms the corpus lacks
    claim = ClaimTerms(terms, {t: weights[i % 10] for i, t in enumerate(terms)})
    arrays = [np.array(sorted(p), dtype=np.int32) for p in passages]
    np.testing.assert_allclose(claim.coverage_many(arrays),
                               [claim.coverage(a) for a in arrays], rtol=1e-12)


claim_shapes = st.tuples(
    term_ids, st.integers(0, 2),
    st.lists(st.lists(st.integers(0, 60), unique=True, max_size=25), max_size=6))


@settings(max_examples=200, deadline=None)
@given(st.lists(claim_shapes, min_size=1, max_size=6), st.lists(st.floats(0.01, 10),
                                                                 min_size=10, max_size=10))
def test_one_batch_for_all_claims_equals_claim_by_claim(shapes, weights: list[float]) -> None:
    claims, groups = [], []
    for ids, unknown, passages in shapes:
        terms = {f"t{i}": term_id for i, term_id in enumerate(ids)}
        terms.update({f"u{i}": None for i in range(unknown)})
        claims.append(ClaimTerms(terms, {t: weights[i % 10] for i, t in enumerate(terms)}))
        groups.append([np.array(sorted(p), dtype=np.int32) for p in passages])
    batched = coverage_batch(claims, groups)
    assert [len(b) for b in batched] == [len(g) for g in groups]
    for claim, group, got in zip(claims, groups, batched, strict=True):
        np.testing.assert_allclose(got, [claim.coverage(a) for a in group], rtol=1e-12)
