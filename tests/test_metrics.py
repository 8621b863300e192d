"""Metrics on hand-computed cases, and against pytrec_eval on tie-free random cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from umeval.errors import ConfigError
from umeval.scoring.metrics import from_scores, mean, parse_metric, per_query
from umeval.types import Rankings


def ranking(ids: list[list[str]], cands: list[str]) -> Rankings:
    k = max(len(r) for r in ids)
    idx = np.full((len(ids), k), -1)
    for q, row in enumerate(ids):
        idx[q, : len(row)] = [cands.index(c) for c in row]
    return Rankings([f"q{i}" for i in range(len(ids))], cands, idx, np.zeros(idx.shape, np.float32))


def test_graded_ndcg_by_hand():
    # Ranked grades [2, 0, 1]; the query's grades are {2, 1} (plus a 0-graded one, which is not relevant).
    # DCG@5 = 2/log2(2) + 0 + 1/log2(4) = 2.5; IDCG@5 = 2/log2(2) + 1/log2(3) = 2.6309297535714573
    r = ranking([["a", "b", "c"]], ["a", "b", "c", "d"])
    qrels = {"q0": {"a": 2, "c": 1, "d": 0}}
    v = per_query(r, qrels, ["ndcg_linear@5", "ndcg_linear@1", "hit@1", "recall@2", "mrr@10", "precision@2"])
    assert v["ndcg_linear@5"][0] == pytest.approx(2.5 / (2 + 1 / math.log2(3)))
    assert v["ndcg_linear@1"][0] == pytest.approx(1.0)
    assert v["hit@1"][0] == 1 and v["recall@2"][0] == 0.5 and v["mrr@10"][0] == 1.0
    assert v["precision@2"][0] == 0.5


def test_binary_cases_by_hand():
    cands = list("abcdefghijk")
    r = ranking([list("bcda"), list("abcd"), list("bcdefghijk")], cands)
    qrels = {"q0": {"a": 1}, "q1": {"a": 1}, "q2": {"a": 1}}
    v = per_query(r, qrels, ["hit@1", "hit@5", "mrr@10", "recall@10", "ndcg_linear@5"])
    np.testing.assert_allclose(v["hit@1"], [0, 1, 0])
    np.testing.assert_allclose(v["hit@5"], [1, 1, 0])
    np.testing.assert_allclose(v["mrr@10"], [0.25, 1, 0])
    np.testing.assert_allclose(v["ndcg_linear@5"], [1 / math.log2(5), 1, 0])
    assert mean(v)["hit@5"] == pytest.approx(2 / 3)


def test_no_relevant_and_short_pools():
    r = ranking([["a"], ["b"]], ["a", "b"])  # k=1 but metrics ask for 10
    v = per_query(r, {"q0": {"a": 1}, "q1": {}}, ["hit@10", "ndcg_linear@10", "recall@10"])
    np.testing.assert_allclose(v["hit@10"], [1, 0])
    np.testing.assert_allclose(v["ndcg_linear@10"], [1, 0])
    np.testing.assert_allclose(v["recall@10"], [1, 0])


def test_from_scores_ties_keep_earlier_candidate():
    scores = np.array([[0.5, 0.9, 0.9, 0.1]])
    rel = np.array([[0, 0, 1, 0]])
    # Candidates 1 and 2 tie at 0.9: 1 (earlier) ranks first, so the relevant 2 is at rank 2.
    v = from_scores(scores, rel, ["hit@1", "hit@2", "mrr@10"])
    assert v["hit@1"][0] == 0 and v["hit@2"][0] == 1 and v["mrr@10"][0] == 0.5


def test_bad_metric_name():
    assert parse_metric("ndcg_linear@5") == ("ndcg_linear", 5)
    with pytest.raises(ConfigError, match="unknown metric 'ndcg@5'"):
        parse_metric("ndcg@5")


def test_equal_to_pytrec_eval_on_random_graded_cases():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = np.random.default_rng(7)
    nq, nc = 40, 60
    scores = rng.random((nq, nc))  # continuous: no ties
    grades = rng.choice([0, 0, 0, 0, 1, 2, 3], size=(nq, nc))
    grades[:, 0] = np.maximum(grades[:, 0], 1)  # every query has a relevant candidate
    qrels = {f"q{q}": {f"d{c}": int(grades[q, c]) for c in range(nc) if grades[q, c] > 0} for q in range(nq)}
    run = {f"q{q}": {f"d{c}": float(scores[q, c]) for c in range(nc)} for q in range(nq)}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.5,10", "success.1,5,10", "recall.10", "recip_rank"})
    ref = ev.evaluate(run)
    ours = from_scores(scores, grades, ["ndcg_linear@5", "ndcg_linear@10", "hit@1", "hit@5", "hit@10",
                                        "recall@10", "mrr@60"])
    pairs = {"ndcg_cut_5": "ndcg_linear@5", "ndcg_cut_10": "ndcg_linear@10", "success_1": "hit@1",
             "success_5": "hit@5", "success_10": "hit@10", "recall_10": "recall@10", "recip_rank": "mrr@60"}
    for theirs, mine in pairs.items():
        expected = np.array([ref[f"q{q}"][theirs] for q in range(nq)])
        np.testing.assert_allclose(ours[mine], expected, atol=1e-6, err_msg=mine)
