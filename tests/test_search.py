"""Exact search against a numpy brute force, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from umeval.scoring.search import search_global, search_local


def brute(q, c, k):
    s = q @ c.T
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_global_matches_brute_force(backend):
    rng = np.random.default_rng(0)
    q, c = unit(rng.standard_normal((300, 32))), unit(rng.standard_normal((2000, 32)))
    idx, sc, tied = search_global(q, c, 10, backend=backend, query_tile=64)
    np.testing.assert_array_equal(idx, brute(q, c, 10))
    np.testing.assert_allclose(sc, np.take_along_axis(q @ c.T, idx, axis=1), atol=1e-5)
    assert not tied.any()


@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_ties_keep_earlier_candidate_even_across_the_cutoff(backend):
    rng = np.random.default_rng(1)
    c = unit(rng.standard_normal((500, 16)))
    dup = [40, 7, 300, 123, 499]  # five identical candidates; the query is that vector
    c[dup] = c[40]
    q = c[[40]].copy()
    c_before = c.copy()
    idx, sc, tied = search_global(q, c, 3, backend=backend)
    assert idx[0].tolist() == [7, 40, 123]  # the three earliest of the tied five
    assert tied[0]
    np.testing.assert_array_equal(c, c_before)  # inputs untouched


def test_k_larger_than_corpus_pads():
    q, c = np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32)[:1]
    idx, sc, _ = search_global(q, c, 3, backend="numpy")
    assert idx.tolist() == [[0, -1, -1], [0, -1, -1]]
    assert np.isneginf(sc[:, 1:]).all()


def test_local_pools_match_brute_force_and_keep_pool_order_on_ties():
    rng = np.random.default_rng(2)
    c = unit(rng.standard_normal((400, 24)))
    q = unit(rng.standard_normal((60, 24)))
    pools = [rng.choice(400, size=int(rng.integers(3, 30)), replace=False) for _ in range(60)]
    idx, sc, tied = search_local(q, c, pools, 5, budget_bytes=4096)  # tiny budget: many chunks
    for r, p in enumerate(pools):
        order = np.argsort(-(c[p] @ q[r]), kind="stable")[:5]
        got = idx[r][idx[r] >= 0]
        np.testing.assert_array_equal(got, p[order])
    # A tie inside a pool: the candidate listed first in the pool wins, whatever its global index.
    c2 = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    idx2, _, tied2 = search_local(np.array([[1, 0]], np.float32), c2, [np.array([2, 1, 0])], 2)
    assert idx2.tolist() == [[1, 0]] and tied2[0]
