"""Exact late-interaction (MaxSim) top-k search over token matrices.

The score of query ``q`` (tokens ``q_1..q_m``) against candidate ``c`` (tokens ``c_1..c_n``) is
``sum_i max_j q_i . c_j`` (ColBERT's MaxSim, as late-interaction retrievers and the official MMEB-V2 code score
them).  Every product is float32; each query token's maximum runs over the candidate's real tokens only (no
padding: a zero-padded token would floor a maximum at 0, see docs/design.md), and the maxima are added in the
query's token order, so a score does not depend on which other items share its block.

Tie policy and top-k contract: those of :mod:`umeval.scoring.search`.  Candidates are ranked by descending score;
equal scores (float32 equality) keep the earlier candidate first (lower index for a global pool, earlier position
in the query's own pool for a local one).  Both functions return ``(indices (nq, k) int64, scores (nq, k)
float32, tied (nq,) bool)``, rows padded with ``-1`` / ``-inf`` when k exceeds the candidates; ``tied[q]`` is
True when two equal scores of distinct candidates occur among ranks <= k or the k-th equals the (k+1)-th.

Memory is bounded by ``budget_bytes`` (default 256 MiB) whatever the corpus size: queries and candidates are
read in blocks (:meth:`umeval.core.multivector.TokenMatrices.block`, which reads only those rows of a
memory-mapped store), and a block pair's token-by-token product is at most ``budget_bytes / 2``.  Peak memory
beyond the inputs' own (a memory-mapped store counts nothing) is about
``budget_bytes + (Tq + Tc) x dim x 4 + nq x (k + 1) x 12`` bytes, with Tq and Tc the query and candidate
block's token counts; one item with more tokens than a block is a block of its own (its products then take
``its tokens x the other block's tokens x 4`` bytes).  A local pool is scored over the union of a group of
queries' pools when the pools share most candidates (the classification tasks' shared label sets), otherwise
query by query over its own pool's candidates, read in blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from umeval.core.multivector import TokenMatrices
from umeval.scoring.search import Found, _exact_top, _finish, _sort_rows

#: Default bound on the scorer's working memory (see the module docstring).
BUDGET_BYTES = 256 << 20
# Union scoring of a local group pays off when the union has at most this many columns per pool entry.
_DENSE_UNION_RATIO = 4


def maxsim(q_flat: np.ndarray, q_off: np.ndarray, c_flat: np.ndarray, c_off: np.ndarray) -> np.ndarray:
    """MaxSim scores ``(n_queries, n_candidates)`` of flat float32 token blocks with their offsets.

    Memory: the ``(query tokens, candidate tokens)`` product plus a ``(query tokens, candidates)`` maximum.
    """
    if len(q_off) < 2 or len(c_off) < 2:
        return np.zeros((max(len(q_off) - 1, 0), max(len(c_off) - 1, 0)), np.float32)
    sims = q_flat @ c_flat.T
    best = np.maximum.reduceat(sims, c_off[:-1], axis=1)  # per query token, its best token of each candidate
    del sims
    return np.add.reduceat(best, q_off[:-1], axis=0)  # rows added in token order (axis 0: no pairwise sum)


def _blocks(lengths: np.ndarray, max_tokens: int) -> list[tuple[int, int]]:
    """Consecutive item ranges of at most ``max_tokens`` tokens each (an item longer than that alone)."""
    out, start, total = [], 0, 0
    for i, n in enumerate(lengths.tolist()):
        if i > start and total + n > max_tokens:
            out.append((start, i))
            start, total = i, 0
        total += n
    if start < len(lengths):
        out.append((start, len(lengths)))
    return out


def _sides(queries: TokenMatrices, candidates: TokenMatrices, budget_bytes: int) -> tuple[int, int]:
    """Token counts of a query block and a candidate block: their product takes at most half the budget."""
    if queries.dim != candidates.dim and len(queries) and len(candidates):
        raise ValueError(f"query tokens have dim {queries.dim} but candidate tokens dim {candidates.dim}")
    cells = max(1, budget_bytes // 8)  # float32 products, and the maxima beside them
    tq = max(1, min(queries.n_tokens, int(cells ** 0.5)))
    return tq, max(1, cells // tq)


def _merge(idx: np.ndarray, sc: np.ndarray, b_idx: np.ndarray, b_sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best ``idx.shape[1]`` of two sorted top lists under the tie policy (score desc, then index)."""
    kk = idx.shape[1]
    i, s = _sort_rows(np.concatenate([idx, b_idx], axis=1), np.concatenate([sc, b_sc], axis=1))
    return np.ascontiguousarray(i[:, :kk]), np.ascontiguousarray(s[:, :kk])


def maxsim_global(queries: TokenMatrices, candidates: TokenMatrices, k: int, *, budget_bytes: int = BUDGET_BYTES,
                  info: dict[str, Any] | None = None) -> Found:
    """Top-k candidates of every query over the whole corpus by MaxSim (see the module docstring)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if info is not None:
        info["search_backend"] = "maxsim:numpy"
    nq, nc = len(queries), len(candidates)
    kk = min(k + 1, nc)  # one past the cutoff, to see ties across it
    idx = np.full((nq, kk), -1, np.int64)
    sc = np.full((nq, kk), -np.inf, np.float32)
    if nq == 0 or nc == 0:
        return _finish(idx, sc, k)
    tq, tc = _sides(queries, candidates, budget_bytes)
    c_blocks = _blocks(candidates.lengths, tc)
    for q0, q1 in _blocks(queries.lengths, tq):
        qf, qo = queries.block(np.arange(q0, q1))
        b_idx, b_sc = idx[q0:q1], sc[q0:q1]
        for c0, c1 in c_blocks:
            cf, co = candidates.block(np.arange(c0, c1))
            part, top = _exact_top(maxsim(qf, qo, cf, co), min(kk, c1 - c0))
            b_idx, b_sc = _merge(b_idx, b_sc, part + c0, top)
        idx[q0:q1], sc[q0:q1] = b_idx, b_sc
    return _finish(idx, sc, k)


def _local_scores(qf: np.ndarray, qo: np.ndarray, candidates: TokenMatrices, pool: np.ndarray,
                  tc: int) -> np.ndarray:
    """MaxSim of one query against its pool's candidates, read in blocks of at most ``tc`` tokens."""
    out = np.empty(len(pool), np.float32)
    for a, b in _blocks(candidates.lengths[pool], tc):
        cf, co = candidates.block(pool[a:b])
        out[a:b] = maxsim(qf, qo, cf, co)[0]
    return out


def maxsim_local(queries: TokenMatrices, candidates: TokenMatrices, pools: Sequence[np.ndarray], k: int, *,
                 budget_bytes: int = BUDGET_BYTES, info: dict[str, Any] | None = None) -> Found:
    """Top-k of each query over its own pool by MaxSim; indices point into ``candidates``.

    Equal scores keep pool order.  Queries are taken in groups whose tokens fit a query block; a group whose
    pools mostly share candidates is scored over their union (each candidate once for the group), otherwise
    each query over its own pool (see the module docstring for memory).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if info is not None:
        info["search_backend"] = "maxsim:numpy"
    nq, nc = len(queries), len(candidates)
    if len(pools) != nq:
        raise ValueError(f"{len(pools)} pools for {nq} queries")
    idx = np.full((nq, k + 1), -1, np.int64)
    sc = np.full((nq, k + 1), -np.inf, np.float32)
    tied = np.zeros(nq, dtype=bool)
    P = [np.asarray(p, dtype=np.int64) for p in pools]
    for i, p in enumerate(P):
        if len(p) and (p.min() < 0 or p.max() >= nc):
            raise ValueError(f"pool of query {i} points outside the {nc} candidates")
    if nq == 0:
        return idx[:, :k], sc[:, :k], tied
    tq, tc = _sides(queries, candidates, budget_bytes)
    for q0, q1 in _blocks(queries.lengths, tq):
        rows = [i for i in range(q0, q1) if len(P[i])]
        if not rows:
            continue
        qf, qo = queries.block(np.asarray(rows))
        union = np.unique(np.concatenate([P[i] for i in rows]))
        entries = sum(len(P[i]) for i in rows)
        dense = None
        if len(union) * len(rows) <= _DENSE_UNION_RATIO * entries:  # shared candidates: each scored once
            dense = np.empty((len(rows), len(union)), np.float32)
            for a, b in _blocks(candidates.lengths[union], tc):
                cf, co = candidates.block(union[a:b])
                dense[:, a:b] = maxsim(qf, qo, cf, co)
        for j, i in enumerate(rows):
            if dense is not None:
                s = dense[j, np.searchsorted(union, P[i])]
            else:
                s = _local_scores(qf[qo[j]: qo[j + 1]], qo[j: j + 2] - qo[j], candidates, P[i], tc)
            kk = min(k + 1, len(P[i]))
            order, top = _exact_top(s[None, :], kk)
            ranked = P[i][order[0]]
            idx[i, :kk], sc[i, :kk] = ranked, top[0]
            # a pool listing one candidate twice ties with itself: no order between them can matter
            tied[i] = bool(((top[0, 1:] == top[0, :-1]) & (ranked[1:] != ranked[:-1])).any())
    return idx[:, :k], sc[:, :k], tied
