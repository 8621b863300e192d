"""Exact inner-product top-k search.

Tie policy: candidates are ranked by descending score; equal scores keep the earlier candidate first (lower
index in the candidate list, or, for a local pool, earlier position in the query's own list), i.e. a stable
sort on -score.  FAISS and argpartition do not promise an order among equal scores, so each row's top k+1 is
re-sorted by (-score, index), and a row whose k-th and (k+1)-th scores are equal (a tie across the cutoff,
where the backend may have kept a later candidate) is recomputed exactly with a stable sort.  ``tied[q]`` says
that a tie touched the top k of query q.

Backends: ``faiss`` (``faiss.knn`` on the caller's arrays, no index copy; ``knn_gpu`` when faiss has GPUs),
``numpy`` (tiled matrix product + ``argpartition``, memory ~ one tile of scores), ``auto`` (faiss if
importable).  Inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from umeval.errors import DependencyError
from umeval.types import Rankings

Found = tuple[np.ndarray, np.ndarray, np.ndarray]  # indices (nq, k) int64, scores (nq, k) float32, tied (nq,)


def _faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError:
        raise DependencyError("FAISS is not installed",
                              "pip install faiss-cpu (or faiss-gpu on a CUDA machine; never both)") from None
    return faiss


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _stable_rows(idx: np.ndarray, sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-sort each row by (-score, index)."""
    order = np.lexsort((idx, -sc), axis=-1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(sc, order, axis=1)


def _finish(q: np.ndarray, c: np.ndarray, idx: np.ndarray, sc: np.ndarray, k: int) -> Found:
    """Stable order, exact fix of boundary ties, tie flags, padding to k."""
    nq, kk = idx.shape
    idx, sc = _stable_rows(idx.astype(np.int64), sc.astype(np.float32))
    if kk > k:
        for r in np.flatnonzero(sc[:, k - 1] == sc[:, k]):
            s = c @ q[r]
            order = np.argsort(-s, kind="stable")[:kk]
            idx[r], sc[r] = order, s[order]
    tied = (np.diff(sc, axis=1) == 0).any(axis=1) if kk > 1 else np.zeros(nq, dtype=bool)
    idx, sc = idx[:, :k], sc[:, :k]
    if idx.shape[1] < k:
        pad = k - idx.shape[1]
        idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=-1)
        sc = np.pad(sc, ((0, 0), (0, pad)), constant_values=-np.inf)
    return idx, sc, tied


def search_global(queries: np.ndarray, candidates: np.ndarray, k: int, *, backend: str = "auto",
                  query_tile: int = 1024) -> Found:
    """Top-k candidates of every query over the whole candidate matrix."""
    q, c = _f32(queries), _f32(candidates)
    nq, nc = len(q), len(c)
    kk = min(k + 1, nc)
    if nq == 0 or nc == 0:
        return _finish(q, c, np.zeros((nq, 0), np.int64), np.zeros((nq, 0), np.float32), k)
    if backend == "auto":
        try:
            _faiss()
            backend = "faiss"
        except DependencyError:
            backend = "numpy"
    if backend == "faiss":
        faiss = _faiss()
        if faiss.get_num_gpus() > 0:
            res = faiss.StandardGpuResources()
            sc, idx = faiss.knn_gpu(res, q, c, kk, metric=faiss.METRIC_INNER_PRODUCT)
        else:
            sc, idx = faiss.knn(q, c, kk, metric=faiss.METRIC_INNER_PRODUCT)
    elif backend == "numpy":
        idx = np.empty((nq, kk), np.int64)
        sc = np.empty((nq, kk), np.float32)
        for t in range(0, nq, query_tile):
            s = q[t: t + query_tile] @ c.T
            part = np.argpartition(-s, kk - 1, axis=1)[:, :kk] if kk < nc else np.tile(np.arange(nc), (len(s), 1))
            idx[t: t + query_tile] = part
            sc[t: t + query_tile] = np.take_along_axis(s, part, axis=1)
    else:
        raise ValueError(f"unknown search backend {backend!r} (auto, faiss, numpy)")
    return _finish(q, c, np.asarray(idx), np.asarray(sc), k)


def search_local(queries: np.ndarray, candidates: np.ndarray, pools: Sequence[np.ndarray], k: int,
                 *, budget_bytes: int = 256 << 20) -> Found:
    """Top-k of each query over its own pool; indices point into ``candidates``, ties keep pool order."""
    q, c = _f32(queries), _f32(candidates)
    nq = len(q)
    idx = np.full((nq, k), -1, np.int64)
    sc = np.full((nq, k), -np.inf, np.float32)
    tied = np.zeros(nq, dtype=bool)
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(pools):
        by_len.setdefault(len(p), []).append(i)
    dim = c.shape[1] if c.ndim == 2 else 0
    for length, rows in by_len.items():
        if length == 0:
            continue
        step = max(1, budget_bytes // max(1, length * dim * 4))  # bound the gathered (g, L, d) block
        for s0 in range(0, len(rows), step):
            r = np.asarray(rows[s0: s0 + step])
            P = np.stack([np.asarray(pools[i], dtype=np.int64) for i in r])  # (g, L)
            s = np.einsum("gld,gd->gl", c[P], q[r])
            order = np.argsort(-s, axis=1, kind="stable")
            top = order[:, : k + 1]
            ssorted = np.take_along_axis(s, top, axis=1)
            kk = min(k, length)
            idx[r, :kk] = np.take_along_axis(P, top[:, :kk], axis=1)
            sc[r, :kk] = ssorted[:, :kk]
            tied[r] = (np.diff(ssorted, axis=1) == 0).any(axis=1) if ssorted.shape[1] > 1 else False
    return idx, sc, tied


def to_rankings(query_ids: Sequence[str], candidate_ids: Sequence[str], found: Found) -> Rankings:
    idx, sc, tied = found
    return Rankings(query_ids=list(query_ids), candidate_ids=list(candidate_ids), indices=idx, scores=sc, tied=tied)
