"""Ranking metrics: a small public API usable on any ranking or score matrix.

Names: ``hit@k``, ``ndcg_linear@k``, ``recall@k``, ``mrr@k``, ``precision@k``.  Grades come from qrels;
grades <= 0 count as non-relevant.  A query with no relevant candidate scores 0 on every metric.

- hit@k (success@k in trec_eval): 1 if a relevant candidate is among the top k, else 0.
- recall@k: relevant candidates in the top k / relevant candidates of the query.
- precision@k: relevant candidates in the top k / k.
- mrr@k: 1 / rank of the first relevant candidate within the top k, else 0 (trec_eval ``recip_rank`` when k
  covers the whole ranking).
- ndcg_linear@k: DCG@k / IDCG@k with linear gain, DCG@k = sum_{i=1..k} grade_i / log2(i + 1), IDCG@k the DCG of
  the query's grades sorted descending (Järvelin & Kekäläinen 2002; trec_eval ``ndcg_cut_k``, which uses the
  grade itself as gain, and the ``ndcg_linear`` of the MMEB-V2 visdoc tasks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from umeval.errors import ConfigError
from umeval.types import Qrels, Rankings

KINDS = ("hit", "ndcg_linear", "recall", "mrr", "precision")
_NAME = re.compile(r"^(hit|ndcg_linear|recall|mrr|precision)@([1-9][0-9]*)$")


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg_linear@5"`` -> ("ndcg_linear", 5)."""
    m = _NAME.match(name)
    if not m:
        raise ConfigError(f"unknown metric '{name}'", f"use <kind>@<k> with kind one of {', '.join(KINDS)}")
    return m.group(1), int(m.group(2))


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def from_gains(gains: np.ndarray, ideal: np.ndarray, n_relevant: np.ndarray, names: Sequence[str]
               ) -> dict[str, np.ndarray]:
    """Metrics from a gain matrix.

    ``gains[q, r]`` is the grade of the candidate at rank r (0 when not relevant or absent), ``ideal[q]``
    the query's grades sorted descending (padded with 0), ``n_relevant[q]`` its count of relevant candidates.
    """
    gains = np.asarray(gains, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    for name in names:
        kind, k = parse_metric(name)
        g = gains[:, :k]
        rel = g > 0
        if kind == "hit":
            v = rel.any(axis=1).astype(np.float64)
        elif kind == "recall":
            v = np.divide(rel.sum(axis=1), n_relevant, out=np.zeros(len(g)), where=n_relevant > 0)
        elif kind == "precision":
            v = rel.sum(axis=1) / k
        elif kind == "mrr":
            first = np.argmax(rel, axis=1)
            v = np.where(rel.any(axis=1), 1.0 / (first + 1), 0.0)
        else:
            disc = _discounts(k)
            dcg = (g * disc[: g.shape[1]]).sum(axis=1)
            ideal_k = np.zeros((len(g), k))
            width = min(k, ideal.shape[1])
            ideal_k[:, :width] = ideal[:, :width]
            idcg = (ideal_k * disc).sum(axis=1)
            v = np.divide(dcg, idcg, out=np.zeros(len(g)), where=idcg > 0)
        out[name] = v
    return out


def per_query(rankings: Rankings, qrels: Qrels, names: Sequence[str]) -> dict[str, np.ndarray]:
    """One value per query (in ``rankings.query_ids`` order) for each metric name."""
    nq, k = rankings.indices.shape
    need = max([parse_metric(n)[1] for n in names] + [1])
    width = max(k, need)
    gains = np.zeros((nq, width))
    grades_sorted: list[list[float]] = []
    for q, qid in enumerate(rankings.query_ids):
        rel = {c: g for c, g in qrels.get(qid, {}).items() if g > 0}
        for r, idx in enumerate(rankings.indices[q]):
            if idx >= 0:
                gains[q, r] = rel.get(rankings.candidate_ids[idx], 0.0)
        grades_sorted.append(sorted(rel.values(), reverse=True))
    ideal = np.zeros((nq, max([need] + [len(g) for g in grades_sorted])))
    for q, g in enumerate(grades_sorted):
        ideal[q, : len(g)] = g
    n_rel = np.array([len(g) for g in grades_sorted], dtype=np.float64)
    return from_gains(gains, ideal, n_rel, names)


def from_scores(scores: np.ndarray, relevance: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Metrics on a dense score matrix (nq x nc) and a matrix of grades.

    Ranks with the umeval tie policy: descending score, earlier candidate first.
    """
    scores = np.asarray(scores)
    relevance = np.asarray(relevance, dtype=np.float64)
    need = max(parse_metric(n)[1] for n in names)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :need]
    gains = np.take_along_axis(np.where(relevance > 0, relevance, 0.0), order, axis=1)
    ideal = -np.sort(-np.where(relevance > 0, relevance, 0.0), axis=1)
    return from_gains(gains, ideal, (relevance > 0).sum(axis=1).astype(np.float64), names)


def mean(values: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean over queries of each metric."""
    return {k: float(np.mean(v)) if len(v) else float("nan") for k, v in values.items()}
