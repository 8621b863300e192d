"""Ranking metrics: a small public API usable on any ranking or dense score matrix.

Names are ``<kind>@<k>`` with k a positive integer and kind one of ``hit``, ``ndcg_linear``,
``ndcg_exponential``, ``precision``, ``recall``, ``f1``, ``map``, ``mrr`` (the eight families of the official
MMEB-V2 score dict, ``src/utils/eval_utils/metrics.py`` of TIGER-AI-Lab/VLM2Vec; see :data:`OFFICIAL`).
Grades come from the qrels (or a relevance matrix); a grade <= 0 is non-relevant.
A query with no relevant candidate scores 0 on every metric (trec_eval instead drops such queries from
its average; we keep them so that every query of a task counts the same).  Relevant candidates that are
missing from the ranking or from the candidate list still count in recall's denominator and in IDCG, as
in trec_eval.  With ``rel_i`` = 1 if the candidate at rank i is relevant, ``g_i`` its grade:

- hit@k = max_{i<=k} rel_i (trec_eval ``success_k``).
- recall@k = sum_{i<=k} rel_i / R, R the query's number of relevant candidates (trec_eval ``recall_k``).
- precision@k = sum_{i<=k} rel_i / k, also when fewer than k candidates were ranked (trec_eval ``P_k``).
- mrr@k = 1 / (rank of the first relevant candidate) if it is within the top k, else 0 (trec_eval
  ``recip_rank`` has no cutoff: it equals mrr@k for k >= the ranking's length).
- ndcg_linear@k = DCG@k / IDCG@k with linear gain (the grade itself):
  DCG@k = sum_{i=1..k} g_i / log2(i + 1) and IDCG@k the same sum over the query's grades sorted
  descending, cut at k (Järvelin & Kekäläinen 2002, "Cumulated gain-based evaluation of IR techniques";
  trec_eval ``ndcg_cut_k``, which also uses the grade as gain; the ``ndcg_linear`` of the MMEB-V2 visdoc
  tasks).
- ndcg_exponential@k = the same ratio with the exponential gain 2^g - 1 in both DCG and IDCG (Burges et al.
  2005, "Learning to rank using gradient descent"; the official ``ndcg_exponential``; trec_eval ``ndcg_cut_k``
  on qrels whose grades are replaced by 2^g - 1).  Equal to ndcg_linear@k on binary grades.
- f1@k = 2 * precision@k * recall@k / (precision@k + recall@k), 0 when both are 0 (the official ``f1``;
  trec_eval has no cut-off F measure).
- map@k = (sum over relevant ranks i <= k of precision@i) / min(R, k), the official ``map``: average
  precision cut at k, normalised by the most relevant candidates the top k could hold.  trec_eval
  ``map_cut_k`` divides by R instead; the two agree whenever R <= k.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from umeval.core.errors import ConfigError
from umeval.core.timing import timed
from umeval.core.types import Qrels, Rankings

_F = TypeVar("_F", bound=Callable[..., np.ndarray])

#: The metric registry: kind -> function of (gains, ideal, n_relevant, k), all cut at k, giving one value per
#: query.  A name ``<kind>@<k>`` (k a positive integer) is valid exactly when its kind is registered here; each
#: function's docstring is its formula.  Filled below by :func:`register_metric`, in the official order.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]] = {}
_NAME = re.compile(r"^([a-z_0-9]+)@([1-9][0-9]*)$")


_KIND = re.compile(r"^[a-z_][a-z_0-9]*$")


def register_metric(kind: str) -> Callable[[_F], _F]:
    """Register ``fn`` as the metric ``<kind>@<k>``; a kind registered twice raises.

    The kind must fit the name pattern (lower-case letters, digits and ``_``, so ``<kind>@<k>`` parses), and
    the docstring must be the formula, starting ``"<kind>@k = "``.
    """

    def add(fn: _F) -> _F:
        if not _KIND.match(kind):
            raise ValueError(f"metric kind '{kind}' does not fit the name pattern {_KIND.pattern}")
        if kind in METRICS:
            raise ValueError(f"metric kind '{kind}' is registered twice")
        if not (fn.__doc__ or "").startswith(f"{kind}@k = "):
            raise ValueError(f"metric kind '{kind}' needs its formula as the docstring, starting '{kind}@k = '")
        METRICS[kind] = fn
        return fn

    return add


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg_linear@5"`` -> ``("ndcg_linear", 5)``; a bad name raises :class:`ConfigError`."""
    m = _NAME.match(name)
    if not m or m.group(1) not in METRICS:
        forms = ", ".join(f"{kind}@k" for kind in METRICS)
        raise ConfigError(f"unknown metric '{name}'", f"use one of {forms} with k a positive integer, e.g. hit@1")
    return m.group(1), int(m.group(2))


def _discounts(k: int) -> np.ndarray:
    """1 / log2(i + 1) for ranks i = 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _from_gains(gains: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, names: Sequence[str]
                ) -> dict[str, np.ndarray]:
    """All metrics from a gain matrix.

    ``gains[q, i]`` is the grade of the candidate at rank i + 1 (0 when non-relevant or absent), ``ideal[q]``
    the query's positive grades sorted descending, ``n_relevant[q]`` its number of relevant candidates.  Both
    matrices have at least max(k) columns.
    """
    out: dict[str, np.ndarray] = {}
    for name in names:
        kind, k = parse_metric(name)
        fn = METRICS.get(kind)
        if fn is None:  # parse_metric only lets registered kinds through; never compute another metric instead
            raise ValueError(f"metric kind '{kind}' has no implementation")
        out[name] = fn(gains[:, :k], ideal[:, :k], n_relevant, k)
    return out


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The ratio a / b, 0 where b is 0."""
    return np.divide(a, b, out=np.zeros(len(a)), where=b > 0)


@register_metric("hit")
def hit(g: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """hit@k = max_{i<=k} rel_i"""
    return np.asarray((g > 0).any(axis=1), dtype=np.float64)


@register_metric("ndcg_linear")
def ndcg_linear(g: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """ndcg_linear@k = DCG@k / IDCG@k, DCG@k = sum_{i<=k} g_i / log2(i + 1), IDCG@k over the grades sorted"""
    disc = _discounts(k)
    return _ratio(g @ disc, ideal @ disc)


@register_metric("ndcg_exponential")
def ndcg_exponential(g: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """ndcg_exponential@k = ndcg_linear@k with the gain 2^g - 1 in DCG and IDCG"""
    return ndcg_linear(np.exp2(g) - 1, np.exp2(ideal) - 1, n_relevant, k)  # absent grades are 0 and stay 0


@register_metric("precision")
def precision(g: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """precision@k = sum_{i<=k} rel_i / k"""
    return (g > 0).sum(axis=1) / k


@register_metric("recall")
def recall(g: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """recall@k = sum_{i<=k} rel_i / R (0 when R = 0)"""
    return _ratio((g > 0).sum(axis=1), n_relevant)


@register_metric("f1")
def f1(g: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """f1@k = 2 * precision@k * recall@k / (precision@k + recall@k) (0 when both are 0)"""
    p, r = precision(g, ideal, n_relevant, k), recall(g, ideal, n_relevant, k)
    return _ratio(2 * p * r, p + r)


@register_metric("map")
def map_(g: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """map@k = sum_{i<=k, rel_i} precision@i / min(R, k)"""
    rel = g > 0
    prec_at = np.cumsum(rel, axis=1) / np.arange(1, k + 1)  # precision@i for i = 1..k
    return _ratio((prec_at * rel).sum(axis=1), np.minimum(n_relevant, k))


@register_metric("mrr")
def mrr(g: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """mrr@k = 1 / (rank of the first relevant candidate) if it is within the top k, else 0"""
    rel = g > 0
    first = np.argmax(rel, axis=1)  # index of the first True; 0 when none, masked below
    return np.where(rel.any(axis=1), 1.0 / (first + 1), 0.0)


KINDS = tuple(METRICS)
#: Every key of the official per-task score dict (besides its counts ``num_pred`` and ``num_data``), in its
#: order: each family at k = 1, 5, 10.
OFFICIAL: tuple[str, ...] = tuple(f"{kind}@{k}" for kind in KINDS for k in (1, 5, 10))


def _max_k(names: Sequence[str]) -> int:
    return max((parse_metric(n)[1] for n in names), default=0)


@timed("metrics")
def per_query(rankings: Rankings, qrels: Qrels, names: Sequence[str]) -> dict[str, np.ndarray]:
    """One float per query (in ``rankings.query_ids`` order) for each metric name.

    ``rankings`` must hold at least the largest k asked for (rows padded with -1 where a pool is shorter);
    a query absent from ``qrels`` or with no grade > 0 scores 0.
    """
    need = _max_k(names)
    if need > rankings.k:
        raise ValueError(f"rankings hold the top {rankings.k} but the metrics need the top {need}; "
                         f"search with k >= {need}")
    nq, nc = len(rankings.query_ids), len(rankings.candidate_ids)
    position = {cid: i for i, cid in enumerate(rankings.candidate_ids)}
    ideal = np.zeros((nq, need))
    n_rel = np.zeros(nq)
    keys: list[int] = []  # q * nc + candidate index of each relevant pair in the candidate list
    grades: list[float] = []
    for q, qid in enumerate(rankings.query_ids):
        rel = {c: float(g) for c, g in qrels.get(qid, {}).items() if g > 0}
        n_rel[q] = len(rel)
        top = sorted(rel.values(), reverse=True)[:need]
        ideal[q, : len(top)] = top
        for c, g in rel.items():
            if c in position:
                keys.append(q * nc + position[c])
                grades.append(g)
    # Look every ranked (query, candidate) pair up in the sorted relevant pairs at once.
    key_arr = np.asarray(keys, dtype=np.int64)
    order = np.argsort(key_arr)
    key_arr, grade_arr = key_arr[order], np.asarray(grades, dtype=np.float64)[order]
    idx = np.asarray(rankings.indices[:, :need], dtype=np.int64)
    ranked = np.arange(nq, dtype=np.int64)[:, None] * nc + idx
    gains = np.zeros((nq, need))
    if len(key_arr):
        pos = np.minimum(np.searchsorted(key_arr, ranked), len(key_arr) - 1)
        hit = (key_arr[pos] == ranked) & (idx >= 0)
        gains = np.where(hit, grade_arr[pos], 0.0)
    return _from_gains(gains, ideal, n_rel, names)


def from_scores(scores: np.ndarray, relevance: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The same metrics on a dense score matrix (nq x nc) and a matrix of grades of the same shape.

    Ranks each row by descending score, equal scores keeping the earlier column first (a stable sort on
    -score, the policy of :mod:`umeval.scoring.search`).
    """
    scores = np.asarray(scores)
    relevance = np.asarray(relevance, dtype=np.float64)
    if scores.ndim != 2 or scores.shape != relevance.shape:
        raise ValueError(f"scores {scores.shape} and relevance {relevance.shape} must be equal 2-d shapes")
    need = _max_k(names)
    nq, nc = scores.shape
    positive = np.where(relevance > 0, relevance, 0.0)
    width = min(need, nc)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :width]
    gains = np.zeros((nq, need))
    gains[:, :width] = np.take_along_axis(positive, order, axis=1)
    ideal = np.zeros((nq, need))
    ideal[:, :width] = -np.sort(-positive, axis=1)[:, :width]
    return _from_gains(gains, ideal, (relevance > 0).sum(axis=1).astype(np.float64), names)


def mean(values: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean over queries of each metric (NaN for zero queries)."""
    return {k: float(np.mean(v)) if len(v) else float("nan") for k, v in values.items()}
