"""Exact search against a numpy brute force (a stable sort on -score), ties included."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from umeval.core.errors import DependencyError
from umeval.scoring import search as S
from umeval.scoring.search import search_global, search_local, to_rankings

BACKENDS = ["faiss", "numpy", "torch"]  # torch runs on the CPU here: the GPU code path, forced


def brute(q: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(q @ c.T), axis=1, kind="stable")[:, :k]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    if request.param == "faiss":
        pytest.importorskip("faiss")
    if request.param == "torch":
        monkeypatch.setattr(S, "_BROKEN", {})
    return request.param


@pytest.mark.parametrize("k", [1, 10])
def test_global_matches_brute_force(backend, k):
    rng = np.random.default_rng(0)
    q, c = unit(rng.standard_normal((300, 32))), unit(rng.standard_normal((2000, 32)))
    idx, sc, tied = search_global(q, c, k, backend=backend, query_tile=64)
    assert idx.dtype == np.int64 and sc.dtype == np.float32 and tied.dtype == bool
    assert idx.shape == sc.shape == (300, k) and tied.shape == (300,)
    np.testing.assert_array_equal(idx, brute(q, c, k))
    np.testing.assert_allclose(sc, np.take_along_axis(q @ c.T, idx, axis=1), atol=1e-5)
    assert not tied.any()


@pytest.mark.parametrize("k", [199, 200, 250])
def test_full_depth_rankings(backend, k):
    rng = np.random.default_rng(0)
    q, c = unit(rng.standard_normal((300, 32))), unit(rng.standard_normal((200, 32)))
    idx, sc, _ = search_global(q, c, k, backend=backend, query_tile=64)
    want = brute(q, c, k)
    s = q @ c.T
    if backend == "numpy":
        np.testing.assert_array_equal(idx[:, :200], want)
    else:
        # Ranking all 60,000 (query, candidate) pairs meets a few neighbours less than 1e-7 apart, which
        # FAISS's own float32 arithmetic may order the other way: only such near-equal swaps are allowed.
        swapped = idx[:, :200] != want
        assert swapped.mean() < 1e-3
        np.testing.assert_allclose(np.take_along_axis(s, idx[:, :200], axis=1), np.take_along_axis(s, want, axis=1),
                                   rtol=0, atol=1e-6)
    assert (idx[:, 200:] == -1).all() and np.isneginf(sc[:, 200:]).all()


def test_tied_flag_by_hand(backend):
    # Scores against q = [1, 0] are the first coordinates: 0.9, 0.5, 0.5, 0.1, 0.1.
    c = np.array([[0.9, 0], [0.5, 0], [0.5, 0], [0.1, 0], [0.1, 0]], dtype=np.float32)
    q = np.array([[1, 0]], dtype=np.float32)
    flags = {k: bool(search_global(q, c, k, backend=backend)[2][0]) for k in (1, 2, 3, 4, 5, 6)}
    # k=1: 0.9 vs next 0.5, no tie; k=2: the 2nd (0.5) equals the 3rd left out; k=3: ranks 2 and 3 tie.
    assert flags == {1: False, 2: True, 3: True, 4: True, 5: True, 6: True}
    idx, sc, _ = search_global(q, c, 2, backend=backend)
    assert idx.tolist() == [[0, 1]]  # candidate 1 beats the equal candidate 2: it comes first
    # Ties only after the (k+1)-th score do not count.
    c2 = np.array([[0.9, 0], [0.8, 0], [0.5, 0], [0.5, 0]], dtype=np.float32)
    assert not search_global(q, c2, 1, backend=backend)[2][0]


def test_ties_keep_earlier_candidate_even_across_the_cutoff(backend):
    rng = np.random.default_rng(1)
    c = unit(rng.standard_normal((500, 16)))
    dup = [40, 7, 300, 123, 499]  # five identical candidates; the query is that vector
    c[dup] = c[40]
    q = np.repeat(c[[40]], 30, axis=0)  # 30 queries: FAISS uses its BLAS path from 20 queries on
    q[1::2] = unit(rng.standard_normal((15, 16)))  # every other query: random, no tie expected
    c_before, q_before = c.copy(), q.copy()
    idx, sc, tied = search_global(q, c, 3, backend=backend)
    assert (idx[0::2] == [7, 40, 123]).all()  # the three earliest of the tied five
    assert tied[0::2].all() and not tied[1::2].any()
    np.testing.assert_array_equal(idx, brute(q, c, 3))
    np.testing.assert_array_equal(c, c_before)  # inputs untouched
    np.testing.assert_array_equal(q, q_before)


def test_many_boundary_ties_are_all_fixed(backend, monkeypatch):
    # Many candidates share one vector, so every query's cutoff falls inside a tie; a small recheck tile
    # exercises the blockwise exact recomputation.
    monkeypatch.setattr(S, "_RECHECK_TILE", 7)
    monkeypatch.setattr(S, "_PARTITION_ELEMENTS", 1000)  # argpartition two rows at a time
    rng = np.random.default_rng(5)
    base = unit(rng.standard_normal((1, 8)))
    c = unit(rng.standard_normal((400, 8)))
    c[rng.choice(400, size=60, replace=False)] = base
    q = np.repeat(base, 50, axis=0)
    idx, sc, tied = search_global(q, c, 20, backend=backend, query_tile=16)
    np.testing.assert_array_equal(idx, brute(q, c, 20))
    assert tied.all()


def test_k_larger_than_corpus_pads(backend):
    q, c = np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32)[:1]
    idx, sc, tied = search_global(q, c, 3, backend=backend)
    assert idx.tolist() == [[0, -1, -1], [0, -1, -1]]
    assert sc[:, 0].tolist() == [1, 0] and np.isneginf(sc[:, 1:]).all()
    assert not tied.any()
    idx, _, _ = search_global(np.zeros((2, 4), np.float32), np.zeros((0, 4), np.float32), 2, backend=backend)
    assert idx.tolist() == [[-1, -1], [-1, -1]]


def test_non_float32_and_non_contiguous_inputs(backend):
    rng = np.random.default_rng(4)
    q64 = rng.standard_normal((40, 12))
    c_f = np.asfortranarray(rng.standard_normal((90, 12)).astype(np.float32))
    c_before = c_f.copy()
    idx, _, _ = search_global(q64[::2], c_f, 5, backend=backend)
    np.testing.assert_array_equal(idx, brute(q64[::2].astype(np.float32), np.ascontiguousarray(c_f), 5))
    np.testing.assert_array_equal(c_f, c_before)


def test_bad_arguments():
    q = np.zeros((1, 3), np.float32)
    with pytest.raises(ValueError, match="unknown search backend"):
        search_global(q, q, 1, backend="annoy")
    with pytest.raises(ValueError, match="dim"):
        search_global(q, np.zeros((2, 4), np.float32), 1, backend="numpy")
    with pytest.raises(ValueError, match="k must be"):
        search_global(q, q, 0, backend="numpy")


def test_missing_faiss(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    q = np.eye(3, dtype=np.float32)
    with pytest.raises(DependencyError, match="pip install faiss-cpu"):
        search_global(q, q, 1, backend="faiss")
    idx, _, _ = search_global(q, q, 1, backend="auto")  # auto falls back to numpy
    assert idx[:, 0].tolist() == [0, 1, 2]


def test_faiss_never_calls_its_gpu_kernels(monkeypatch):
    # Bug caught: knn_gpu from a faiss-gpu wheel without Hopper kernels aborts the process (no exception).
    faiss = pytest.importorskip("faiss")
    calls: list[str] = []

    def knn_gpu(*a, **kw):
        calls.append("knn_gpu")
        raise AssertionError("must not be called")

    fake = types.SimpleNamespace(knn=faiss.knn, knn_gpu=knn_gpu, METRIC_INNER_PRODUCT=faiss.METRIC_INNER_PRODUCT,
                                 get_num_gpus=lambda: 1, StandardGpuResources=lambda: calls.append("res"))
    monkeypatch.setitem(sys.modules, "faiss", fake)
    rng = np.random.default_rng(6)
    q, c = unit(rng.standard_normal((5, 8))), unit(rng.standard_normal((50, 8)))
    idx, _, _ = search_global(q, c, 4, backend="faiss")
    assert calls == []
    np.testing.assert_array_equal(idx, brute(q, c, 4))


def test_auto_picks_torch_when_a_gpu_is_visible(monkeypatch):
    # Bug caught: auto still sending a GPU machine's global search to faiss (or to the CPU).
    monkeypatch.setattr(S, "_cuda_visible", lambda: True)
    assert S._resolve(1, "auto") == "torch"
    monkeypatch.setattr(S, "_cuda_visible", lambda: False)
    assert S._resolve(1, "auto") in ("faiss", "numpy")


def test_torch_boundary_ties_use_the_devices_scores(monkeypatch):
    # Bug caught: topk keeps an arbitrary member of a tie across the cutoff; the policy keeps the earliest.
    monkeypatch.setattr(S, "_BROKEN", {})
    rng = np.random.default_rng(9)
    c = unit(rng.standard_normal((300, 8)))
    c[[5, 90, 17, 250, 11, 160]] = c[5]
    q = np.repeat(c[[5]], 10, axis=0)
    q[::3] = unit(rng.standard_normal((4, 8)))
    info: dict = {}
    idx, _, tied = search_global(q, c, 4, backend="torch", device="cpu", query_tile=3, info=info)
    np.testing.assert_array_equal(idx, brute(q, c, 4))
    assert (idx[1] == [5, 11, 17, 90]).all()
    assert tied.tolist() == [i % 3 != 0 for i in range(10)]
    assert info == {"search_backend": "torch:cpu"}


def test_torch_failure_falls_back_to_exact_cpu_search(monkeypatch):
    # Bug caught: a device error (here injected, as CUDA's "no kernel image") ending the run, or a fallback
    # that is not recorded; after one failure the device is not tried again.
    monkeypatch.setattr(S, "_BROKEN", {})
    calls = []

    def broken(*a, **kw):
        calls.append(1)
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    monkeypatch.setattr(S, "_torch_top", broken)
    rng = np.random.default_rng(10)
    q, c = unit(rng.standard_normal((20, 8))), unit(rng.standard_normal((100, 8)))
    info: dict = {}
    idx, _, _ = search_global(q, c, 5, backend="torch", device="cuda:0", info=info)
    np.testing.assert_array_equal(idx, brute(q, c, 5))
    assert info["search_backend"].startswith("numpy (fallback: torch on cuda:0 failed: CUDA error: no kernel")
    info2: dict = {}
    search_global(q, c, 5, backend="torch", device="cuda:0", info=info2)
    assert calls == [1] and info2 == info


def later_first_knn(q: np.ndarray, c: np.ndarray, kk: int, metric: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in ``faiss.knn`` that breaks ties toward the *later* candidate, as a GPU kernel may."""
    s = q @ c.T
    later = np.broadcast_to(-np.arange(s.shape[1]), s.shape)
    order = np.lexsort((later, -s), axis=-1)[:, :kk]
    return np.take_along_axis(s, order, axis=1), order


def test_faiss_boundary_ties_are_redone_whatever_faiss_kept(monkeypatch):
    fake = types.SimpleNamespace(knn=later_first_knn, METRIC_INNER_PRODUCT=0, get_num_gpus=lambda: 0)
    monkeypatch.setitem(sys.modules, "faiss", fake)
    monkeypatch.setattr(S, "_RECHECK_TILE", 3)
    rng = np.random.default_rng(8)
    c = unit(rng.standard_normal((300, 8)))
    c[[5, 90, 17, 250, 11, 160]] = c[5]  # six copies; k = 4 cuts through them
    q = np.repeat(c[[5]], 10, axis=0)
    q[::3] = unit(rng.standard_normal((4, 8)))
    idx, _, tied = search_global(q, c, 4, backend="faiss")
    np.testing.assert_array_equal(idx, brute(q, c, 4))
    assert (idx[1] == [5, 11, 17, 90]).all()
    assert tied.tolist() == [i % 3 != 0 for i in range(10)]


def _check_local(q, c, pools, k, idx, sc):
    for r, p in enumerate(pools):
        order = np.argsort(-(c[p] @ q[r]), kind="stable")[:k]
        np.testing.assert_array_equal(idx[r, : len(order)], p[order])  # indices into candidates
        assert (idx[r, len(order):] == -1).all() and np.isneginf(sc[r, len(order):]).all()
        np.testing.assert_allclose(sc[r, : len(order)], c[p[order]] @ q[r], atol=1e-5)


def test_local_pools_match_brute_force(backend):
    rng = np.random.default_rng(2)
    c = unit(rng.standard_normal((400, 24)))
    q = unit(rng.standard_normal((60, 24)))
    lengths = rng.choice([3, 8, 8, 8, 30], size=60)  # repeated lengths: queries are grouped
    pools = [rng.choice(400, size=int(n), replace=False) for n in lengths]
    pools[5] = np.zeros(0, dtype=np.int64)  # an empty pool
    k = 5
    # Pools drawn from 400 candidates share few: the per-entry path (faiss) or gathered matvecs (numpy).
    idx, sc, tied = search_local(q, c, pools, k, backend=backend, budget_bytes=64)  # tiny budget: many chunks
    assert idx.shape == sc.shape == (60, k)
    _check_local(q, c, pools, k, idx, sc)
    assert not tied.any()
    same, _, _ = search_local(q, c, pools, k, backend=backend)  # default budget: one chunk per length
    np.testing.assert_array_equal(same, idx)


def test_local_shared_pools_one_product(backend, monkeypatch):
    """Pools that are permutations of one label set take the union-product path; ranks keep pool order."""
    rng = np.random.default_rng(4)
    c = unit(rng.standard_normal((300, 16)))
    c[7] = c[3]  # a tie inside the label set
    labels = rng.choice(300, size=40, replace=False)
    labels[:2] = [3, 7]
    q = unit(rng.standard_normal((50, 16)))
    q[0] = c[3]
    pools = [rng.permutation(labels) for _ in range(50)]
    import umeval.scoring.search as S

    calls = []
    monkeypatch.setattr(S, "_import_faiss", lambda: calls.append(1) or pytest.fail("per-entry path used"))
    idx, sc, tied = S.search_local(q, c, pools, 6, backend=backend, budget_bytes=40 * 4 * 8)  # 8 queries a chunk
    _check_local(q, c, pools, 6, idx, sc)
    first = [int(i) for i in pools[0] if i in (3, 7)]
    assert idx[0, :2].tolist() == first and tied[0]  # tied at 1.0: pool order decides
    assert calls == []


def test_local_backends_agree_on_large_pools():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(5)
    c, q = unit(rng.standard_normal((3000, 64))), unit(rng.standard_normal((40, 64)))
    pools = [rng.choice(3000, size=200, replace=False) for _ in range(40)]
    a = search_local(q, c, pools, 10, backend="faiss")
    b = search_local(q, c, pools, 10, backend="numpy")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], atol=1e-6)


def test_local_ties_keep_pool_order():
    c = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    q = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    pools = [np.array([2, 3, 1, 0]), np.array([0, 3, 1, 2]), np.array([0, 2, 1])]
    idx, sc, tied = search_local(q, c, pools, 2)
    # Query 0: candidates 3, 1, 0 tie at 1; pool order puts 3 then 1 first, whatever their global index.
    assert idx[0].tolist() == [3, 1]
    assert idx[1].tolist() == [0, 3]
    assert idx[2].tolist() == [2, 0]  # 2 scores 1; 0 and 1 tie at 0 across the cutoff: pool order keeps 0
    assert tied.tolist() == [True, True, True]
    _, _, tied1 = search_local(q[:1], c, [np.array([2, 0])], 1)
    assert not tied1[0]  # 1 vs 0: no tie


def test_a_candidate_listed_twice_in_a_pool_is_no_tie(backend):
    """Real pools list one candidate text twice (it is stored once): its two entries score the same, but no order
    between them can change a metric, so they must not count as a tie; two distinct candidates with one score do.

    Catches a tie flag on duplicated pool entries (every perfect ranking of such a pool would report n_tied > 0).
    """
    c = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.6, 0.8]], dtype=np.float32)
    q = np.array([[1, 0], [1, 0]], dtype=np.float32)
    _, _, tied = search_local(q, c, [np.array([0, 1, 2, 2]), np.array([0, 1, 2, 3])], 10, backend=backend)
    assert tied.tolist() == [False, True]


def test_local_bad_pools():
    c = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="outside the 3 candidates"):
        search_local(c, c, [np.array([0]), np.array([1]), np.array([3])], 1)
    with pytest.raises(ValueError, match="2 pools for 3 queries"):
        search_local(c, c, [np.array([0]), np.array([1])], 1)


def test_to_rankings():
    found = search_global(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), 2, backend="numpy")
    r = to_rankings(["qa", "qb"], ["ca", "cb"], found)
    assert r.k == 2 and r.ranked_ids(0) == ["ca", "cb"] and r.ranked_ids(1) == ["cb", "ca"]
    assert r.tied.tolist() == [False, False]
    with pytest.raises(ValueError, match="result rows"):
        to_rankings(["qa"], ["ca", "cb"], found)
