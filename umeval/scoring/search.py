"""Exact inner-product top-k search.

Tie policy: candidates are ranked by descending score; equal scores keep the earlier candidate first (lower
index in the candidate list; for a local pool, earlier position in the query's own pool), i.e. a stable sort
on -score.  "Equal" is float32 equality of the scores the backend computed.

FAISS and ``argpartition`` promise no order among equal scores, and at the cutoff they may keep any of the
tied candidates.  So each backend returns the top k+1, each row is re-sorted by (-score, index), and a row
whose k-th and (k+1)-th scores are equal (a tie across the cutoff) is recomputed exactly with numpy.  A tie
inside the top k needs no recomputation: all its members were returned, and the re-sort orders them.

``tied[q]`` is True when two equal scores occur among ranks <= k or the k-th score equals the (k+1)-th, i.e.
when the policy could have changed query q's metrics (two entries of one candidate listed twice in a local pool
do not count: they are the same candidate).  When k exceeds the number of candidates, rows are padded
with index -1 and score -inf.  Inputs are converted to C-contiguous float32 copies when needed, never modified.

Backends of :func:`search_global`: ``faiss`` (``faiss.knn`` on the CPU, on the caller's arrays, no index copy),
``numpy`` (tiled matrix product + ``argpartition``), ``torch`` (tiled float32 matrix product + ``torch.topk`` on
``device``, TF32 off, the same re-sort and boundary fix, the boundary rows taken from the device's own scores),
``auto`` (torch on CUDA when a GPU is visible, else faiss when importable, else numpy).

FAISS's GPU kernels are never called: the ``faiss-gpu`` wheels lack kernels for some GPUs (Hopper), and their
failure is a FAISS assertion that aborts the process, which no ``try`` can catch.  A torch failure is an
exception: the search is then redone exactly on the CPU (numpy), the device is not tried again in this process,
and ``info["search_backend"]`` says what ran (e.g. ``numpy (fallback: torch on cuda failed: ...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from umeval.core.errors import DependencyError
from umeval.core.types import Rankings

#: indices (nq, k) int64, scores (nq, k) float32, tied (nq,) bool
Found = tuple[np.ndarray, np.ndarray, np.ndarray]

log = logging.getLogger("umeval")

# Rows of the exact re-check are scored in blocks of this many queries, to bound memory.
_RECHECK_TILE = 256
# argpartition's int64 output covers whole rows: do it on at most this many scores at a time (512 MiB).
_PARTITION_ELEMENTS = 1 << 26


def _import_faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError:
        raise DependencyError("FAISS is not installed",
                              "pip install faiss-cpu, or use scorer.search=numpy or torch") from None
    return faiss


#: Devices whose torch search failed in this process: not tried again (a CUDA error can poison the context).
_BROKEN: dict[str, str] = {}


def _cuda_visible() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _resolve(k: int, backend: str) -> str:
    """Check ``k`` and the backend name; ``auto`` becomes torch on a GPU, else faiss when importable, else numpy."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if backend not in ("auto", "faiss", "numpy", "torch"):
        raise ValueError(f"unknown search backend {backend!r}; use auto, faiss, numpy or torch")
    if backend != "auto":
        return backend
    if _cuda_visible():
        return "torch"
    return "faiss" if _faiss_importable() else "numpy"


def _faiss_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("faiss") is not None


def _f32(x: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 view, or a copy when the caller's array is not one (never modified)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {x.shape}")
    return x


def _sort_rows(idx: np.ndarray, sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-sort each row by (-score, index): the tie policy applied to a row's returned set."""
    order = np.lexsort((idx, -sc), axis=-1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(sc, order, axis=1)


def _exact_top(s: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Top kk of each row of a score block under the tie policy; ``s`` may be overwritten."""
    nr, nc = s.shape
    if kk >= nc:  # every candidate is in the row: the re-sort alone applies the policy
        part = np.broadcast_to(np.arange(nc, dtype=np.int64), s.shape)
        return _sort_rows(part, s.copy())
    np.negative(s, out=s)  # argpartition wants ascending order; s is our own block, so negate in place
    part = np.empty((nr, kk), dtype=np.int64)
    step = max(1, _PARTITION_ELEMENTS // nc)  # argpartition returns int64 indices over all nc columns
    for r in range(0, nr, step):
        part[r: r + step] = np.argpartition(s[r: r + step], kk - 1, axis=1)[:, :kk]
    np.negative(s, out=s)
    idx, sc = _sort_rows(part, np.take_along_axis(s, part, axis=1))
    return _fix_boundary(s, idx, sc, kk - 1)


def _fix_boundary(s: np.ndarray, idx: np.ndarray, sc: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Redo the rows of sorted top-(k+1) ``idx``/``sc`` whose k-th and (k+1)-th scores tie, from full scores ``s``.

    Every candidate scoring above the tied value v is in the top k+1; the slots left go to the candidates
    scoring exactly v in index order, which is what a stable sort on -score would give.
    """
    kk = idx.shape[1]
    for r in np.flatnonzero(sc[:, k - 1] == sc[:, k]):
        row, v = s[r], sc[r, k - 1]
        above = np.flatnonzero(row > v)
        equal = np.flatnonzero(row == v)[: kk - len(above)]
        keep = np.concatenate([above[np.lexsort((above, -row[above]))], equal])
        idx[r], sc[r] = keep, row[keep]
    return idx, sc


def _finish(idx: np.ndarray, sc: np.ndarray, k: int) -> Found:
    """Tie flags from the top k+1, then cut or pad to k."""
    nq, kk = idx.shape
    tied = (sc[:, 1:] == sc[:, :-1]).any(axis=1) if kk > 1 else np.zeros(nq, dtype=bool)
    out_idx = np.full((nq, k), -1, dtype=np.int64)
    out_sc = np.full((nq, k), -np.inf, dtype=np.float32)
    w = min(k, kk)
    out_idx[:, :w], out_sc[:, :w] = idx[:, :w], sc[:, :w]
    return out_idx, out_sc, tied


def _faiss_top(q: np.ndarray, c: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Top kk by FAISS, re-sorted; rows with a tie between the last two kept scores redone with numpy."""
    faiss = _import_faiss()
    # faiss.knn searches the caller's arrays in place: no index, so no second copy of the candidates.  Never
    # knn_gpu: a GPU build without kernels for this device aborts the process (see the module docstring).
    sc, idx = faiss.knn(q, c, kk, metric=faiss.METRIC_INNER_PRODUCT)
    idx, sc = _sort_rows(np.asarray(idx, dtype=np.int64), np.asarray(sc, dtype=np.float32))
    # kk == nc: FAISS returned every candidate, so the re-sort alone applies the policy.
    if kk == len(c) or kk < 2:
        return idx, sc
    boundary = np.flatnonzero(sc[:, kk - 2] == sc[:, kk - 1])
    # Boundary ties: FAISS may have kept any of the tied candidates; redo those rows exactly with numpy.
    for t in range(0, len(boundary), _RECHECK_TILE):
        rows = boundary[t: t + _RECHECK_TILE]
        idx[rows], sc[rows] = _exact_top(q[rows] @ c.T, kk)
    return idx, sc


def _numpy_top(q: np.ndarray, c: np.ndarray, kk: int, query_tile: int) -> tuple[np.ndarray, np.ndarray]:
    nq = len(q)
    idx = np.empty((nq, kk), dtype=np.int64)
    sc = np.empty((nq, kk), dtype=np.float32)
    for t in range(0, nq, query_tile):
        # Memory: one (query_tile, nc) float32 score block, plus at most 512 MiB for argpartition.
        idx[t: t + query_tile], sc[t: t + query_tile] = _exact_top(q[t: t + query_tile] @ c.T, kk)
    return idx, sc


def torch_device(device: str | None = None) -> str:
    """The device of the torch backend: the one asked for, else CUDA when visible, else the CPU."""
    if device not in (None, "", "auto"):
        return str(device)
    return "cuda" if _cuda_visible() else "cpu"


def _torch_top(q: np.ndarray, c: np.ndarray, kk: int, query_tile: int, device: str) -> tuple[np.ndarray, np.ndarray]:
    """Top kk by float32 products and ``torch.topk`` on ``device``; the tie policy applied on the CPU.

    ``topk`` promises no order among equal scores: each row is re-sorted by (-score, index), and a row whose
    last two kept scores tie is redone from that row's full scores, copied back from the device (the same
    float32 values topk saw, so "equal" means what it meant on the device).
    """
    import torch

    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # no TF32: the products stay float32 as on the CPU
    try:
        ct = torch.from_numpy(c).to(device)
        nq, nc = len(q), len(c)
        idx = np.empty((nq, kk), dtype=np.int64)
        sc = np.empty((nq, kk), dtype=np.float32)
        for t in range(0, nq, query_tile):
            s = torch.from_numpy(q[t: t + query_tile]).to(device) @ ct.T
            top_s, top_i = torch.topk(s, kk, dim=1)
            i_blk, s_blk = _sort_rows(top_i.cpu().numpy().astype(np.int64), top_s.cpu().numpy())
            if 2 <= kk < nc:
                rows = np.flatnonzero(s_blk[:, kk - 2] == s_blk[:, kk - 1])
                if rows.size:
                    full = s[torch.from_numpy(rows).to(device)].cpu().numpy()
                    i_blk[rows], s_blk[rows] = _fix_boundary(full, i_blk[rows], s_blk[rows], kk - 1)
            idx[t: t + len(i_blk)], sc[t: t + len(i_blk)] = i_blk, s_blk
            del s, top_s, top_i
        del ct
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    finally:
        torch.set_float32_matmul_precision(precision)
    return idx, sc


def search_global(queries: np.ndarray, candidates: np.ndarray, k: int, *, backend: str = "auto",
                  query_tile: int = 4096, device: str | None = None, info: dict[str, Any] | None = None) -> Found:
    """Top-k candidates of every query over the whole candidate matrix, by inner product.

    Returns ``(indices (nq, k) int64, scores (nq, k) float32, tied (nq,) bool)`` under the module's tie
    policy.  ``backend`` is ``"auto"``, ``"faiss"``, ``"numpy"`` or ``"torch"``; ``query_tile`` bounds the
    numpy and torch backends' score block to ``query_tile x n_candidates``.  ``device`` is the torch backend's
    device (default: CUDA when visible, else the CPU).  When ``info`` is given, ``info["search_backend"]``
    is set to what ran, a CPU fallback included.
    """
    backend = _resolve(k, backend)
    info = info if info is not None else {}
    info["search_backend"] = backend
    q, c = _f32(queries), _f32(candidates)
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"queries have dim {q.shape[1]} but candidates dim {c.shape[1]}")
    nq, nc = len(q), len(c)
    kk = min(k + 1, nc)  # one past the cutoff, to see ties across it
    if nq == 0 or nc == 0:
        return _finish(np.zeros((nq, 0), np.int64), np.zeros((nq, 0), np.float32), k)
    if backend == "torch":
        dev = torch_device(device)
        info["search_backend"] = f"torch:{dev}"
        if dev in _BROKEN:
            info["search_backend"] = f"numpy (fallback: {_BROKEN[dev]})"
        else:
            try:
                return _finish(*_torch_top(q, c, kk, max(1, query_tile), dev), k)
            except Exception as e:  # noqa: BLE001 - any device failure: redo exactly on the CPU
                why = f"torch on {dev} failed: {' '.join(str(e).split())[:200]}"
                _BROKEN[dev] = why
                log.warning("search: %s; searching on the CPU instead", why)
                info["search_backend"] = f"numpy (fallback: {why})"
        backend = "numpy"
    if backend == "faiss":
        idx, sc = _faiss_top(q, c, kk)
    else:
        idx, sc = _numpy_top(q, c, kk, max(1, query_tile))
    return _finish(idx, sc, k)


# A local group is scored as one matrix product over the union of its pools when that union has at most this
# many columns per pool entry's query row, i.e. when pools share most candidates (a fixed label set); a product
# costs ~10x less per score than a gathered dot product on this hardware class, so 4 leaves a margin.
_DENSE_UNION_RATIO = 4


def _pool_scores(q: np.ndarray, c: np.ndarray, P: np.ndarray, backend: str, budget_bytes: int) -> np.ndarray:
    """Scores ``(g, L)``: ``q[i] . c[P[i, j]]`` for a group of queries with equal pool length L."""
    g, length = P.shape
    present = np.zeros(len(c), dtype=bool)
    present[P.ravel()] = True
    n_union = int(np.count_nonzero(present))
    if n_union * g <= _DENSE_UNION_RATIO * P.size:  # shared candidates: one BLAS product, then pick columns
        column = np.cumsum(present) - 1  # candidate index -> column in the union
        cu = c if n_union == len(c) else c[present]
        return np.take_along_axis(q @ cu.T, column[P], axis=1)
    if backend == "faiss":  # a dot product per (query, pool entry) in C, in parallel, with no gathered copy
        faiss = _import_faiss()
        out = np.empty((g, length), dtype=np.float32)
        P = np.ascontiguousarray(P, dtype=np.int64)
        faiss.fvec_inner_products_by_idx(faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(c),
                                         faiss.swig_ptr(P), c.shape[1], g, length)
        return out
    out = np.empty((g, length), dtype=np.float32)
    step = max(1, budget_bytes // (length * max(c.shape[1], 1) * 4))  # gathered (step, L, dim) block
    for s0 in range(0, g, step):  # batched BLAS matvecs (einsum does not use BLAS)
        out[s0: s0 + step] = np.matmul(c[P[s0: s0 + step]], q[s0: s0 + step, :, None])[:, :, 0]
    return out


def search_local(queries: np.ndarray, candidates: np.ndarray, pools: Sequence[np.ndarray], k: int,
                 *, backend: str = "auto", budget_bytes: int = 16 << 20, info: dict[str, Any] | None = None) -> Found:
    """Top-k of each query over its own pool: query i ranks only ``candidates[pools[i]]``.

    Returned indices point into ``candidates`` (not into the pool); equal scores keep pool order.  Queries
    with equal pool length are scored together, in chunks whose ``(queries, pool_len)`` score block stays
    under ``budget_bytes``.  A chunk whose pools mostly share candidates is one matrix product over their
    union; otherwise ``faiss`` computes one dot product per pool entry without copying the pool's vectors, and
    ``numpy`` gathers the pool's vectors in blocks of ``budget_bytes`` and runs batched matvecs.  Local pools
    (at most a few thousand candidates per query) are always scored on the CPU: ``torch`` means faiss when
    importable, else numpy.
    """
    backend = _resolve(k, backend)
    if backend == "torch":
        backend = _resolve(k, "faiss" if _faiss_importable() else "numpy")
    if info is not None:
        info["search_backend"] = backend
    q, c = _f32(queries), _f32(candidates)
    nq, nc = len(q), len(c)
    if len(pools) != nq:
        raise ValueError(f"{len(pools)} pools for {nq} queries")
    idx = np.full((nq, k + 1), -1, dtype=np.int64)
    sc = np.full((nq, k + 1), -np.inf, dtype=np.float32)
    tied = np.zeros(nq, dtype=bool)
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(pools):
        by_len.setdefault(len(p), []).append(i)
    for length, members in by_len.items():
        if length == 0:
            continue
        kk = min(k + 1, length)
        step = max(1, budget_bytes // (length * 4))
        for s0 in range(0, len(members), step):
            rows = np.asarray(members[s0: s0 + step])
            P = np.stack([np.asarray(pools[i], dtype=np.int64) for i in rows])  # (g, L) candidate indices
            if P.min() < 0 or P.max() >= nc:
                bad = int(rows[np.flatnonzero((P < 0).any(axis=1) | (P >= nc).any(axis=1))[0]])
                raise ValueError(f"pool of query {bad} points outside the {nc} candidates")
            s = _pool_scores(q[rows], c, P, backend, budget_bytes)
            # argpartition + stable re-sort + exact boundary fix: the policy, cheaper than sorting whole pools.
            order, top = _exact_top(s, kk)
            ranked = np.take_along_axis(P, order, axis=1)
            idx[rows, :kk] = ranked
            sc[rows, :kk] = top
            if kk > 1:  # a pool listing one candidate twice ties with itself: no order between them can matter
                tied[rows] = ((top[:, 1:] == top[:, :-1]) & (ranked[:, 1:] != ranked[:, :-1])).any(axis=1)
    return idx[:, :k], sc[:, :k], tied


def to_rankings(query_ids: Sequence[str], candidate_ids: Sequence[str], found: Found) -> Rankings:
    """Wrap a search result ``(indices, scores, tied)`` with its ids."""
    idx, sc, tied = found
    if idx.shape[0] != len(query_ids):
        raise ValueError(f"{idx.shape[0]} result rows for {len(query_ids)} query ids")
    return Rankings(query_ids=list(query_ids), candidate_ids=list(candidate_ids), indices=idx, scores=sc,
                    tied=tied)
