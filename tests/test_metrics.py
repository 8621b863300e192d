"""Metrics on hand-computed cases, and against pytrec_eval on tie-free random cases."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from umeval.core.errors import ConfigError
from umeval.core.types import Rankings
from umeval.scoring.metrics import from_scores, mean, parse_metric, per_query


def ranking(rows: list[list[str]], cands: list[str], k: int | None = None) -> Rankings:
    """Rankings from ranked candidate ids per query, padded with -1 up to k."""
    k = k or max(len(r) for r in rows)
    idx = np.full((len(rows), k), -1, dtype=np.int64)
    for q, row in enumerate(rows):
        idx[q, : len(row)] = [cands.index(c) for c in row]
    return Rankings([f"q{i}" for i in range(len(rows))], cands, idx, np.zeros(idx.shape, np.float32))


def test_graded_ndcg_by_hand():
    # Ranked grades [2, 0, 1]; the query's positive grades are {2, 1} ("d" has grade 0: not relevant).
    # DCG@5  = 2/log2(2) + 0/log2(3) + 1/log2(4) = 2 + 0 + 0.5 = 2.5
    # IDCG@5 = 2/log2(2) + 1/log2(3)             = 2 + 0.6309297535714575 = 2.6309297535714575
    # nDCG@5 = 2.5 / 2.6309297535714575          = 0.9502344167898356
    r = ranking([["a", "b", "c"]], ["a", "b", "c", "d"], k=5)
    qrels = {"q0": {"a": 2, "c": 1, "d": 0}}
    v = per_query(r, qrels, ["ndcg_linear@5", "ndcg_linear@2", "ndcg_linear@1", "hit@1", "recall@2", "recall@3",
                             "mrr@5", "precision@2", "precision@5"])
    assert v["ndcg_linear@5"][0] == pytest.approx(0.9502344167898356)
    # @2: DCG = 2, IDCG = 2 + 1/log2(3); @1: 2/2.
    assert v["ndcg_linear@2"][0] == pytest.approx(2 / (2 + 1 / math.log2(3)))
    assert v["ndcg_linear@1"][0] == pytest.approx(1.0)
    assert v["hit@1"][0] == 1 and v["mrr@5"][0] == 1.0
    assert v["recall@2"][0] == 0.5 and v["recall@3"][0] == 1.0
    assert v["precision@2"][0] == 0.5
    assert v["precision@5"][0] == pytest.approx(2 / 5)  # only 3 ranked, still divided by k (trec_eval P_k)


def test_graded_ndcg_relevant_first_at_rank_two():
    # Ranked grades [0, 3, 1, 0, 2], ideal [3, 2, 1].
    # DCG@5  = 3/log2(3) + 1/log2(4) + 2/log2(6) = 1.8928 + 0.5 + 0.7737 = 3.1664948751834556
    # IDCG@5 = 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.2619 + 0.5      = 4.7618595071429155
    # nDCG@5 = 0.6649702433332251;  nDCG@3 = (3/log2(3) + 1/log2(4)) / IDCG@3 = 0.5024905201686705
    r = ranking([list("abcde")], list("abcde"))
    qrels = {"q0": {"b": 3, "c": 1, "e": 2}}
    v = per_query(r, qrels, ["ndcg_linear@5", "ndcg_linear@3", "mrr@5", "mrr@1", "hit@1", "hit@2"])
    assert v["ndcg_linear@5"][0] == pytest.approx(0.6649702433332251)
    assert v["ndcg_linear@3"][0] == pytest.approx(0.5024905201686705)
    assert v["mrr@5"][0] == 0.5 and v["mrr@1"][0] == 0
    assert v["hit@1"][0] == 0 and v["hit@2"][0] == 1


def test_binary_cases_by_hand():
    cands = list("abcdefghijk")
    r = ranking([list("bcda"), list("abcd"), list("bcdefghijk")], cands, k=10)
    qrels = {"q0": {"a": 1}, "q1": {"a": 1}, "q2": {"a": 1}}
    v = per_query(r, qrels, ["hit@1", "hit@5", "mrr@10", "recall@10", "ndcg_linear@5"])
    np.testing.assert_allclose(v["hit@1"], [0, 1, 0])
    np.testing.assert_allclose(v["hit@5"], [1, 1, 0])
    np.testing.assert_allclose(v["mrr@10"], [0.25, 1, 0])
    np.testing.assert_allclose(v["recall@10"], [1, 1, 0])
    np.testing.assert_allclose(v["ndcg_linear@5"], [1 / math.log2(5), 1, 0])  # rank 4: 1/log2(5) = 0.4307
    assert mean(v)["hit@5"] == pytest.approx(2 / 3)
    assert mean(v)["mrr@10"] == pytest.approx(1.25 / 3)


def test_queries_without_relevant_candidates_score_zero():
    r = ranking([["a", "b"], ["a", "b"], ["a", "b"]], ["a", "b"])
    # q0: grades <= 0 only; q1: empty; q2: absent from qrels.
    v = per_query(r, {"q0": {"a": 0, "b": -1}, "q1": {}}, ["hit@2", "ndcg_linear@2", "recall@2", "mrr@2",
                                                             "precision@2"])
    for name, arr in v.items():
        np.testing.assert_array_equal(arr, [0, 0, 0], err_msg=name)


def test_relevant_outside_the_ranking_counts_in_recall_and_idcg():
    # "z" is relevant but not a candidate; "c" is a candidate left out of the top 2.
    r = ranking([["a", "b"]], ["a", "b", "c"])
    v = per_query(r, {"q0": {"a": 1, "c": 1, "z": 1}}, ["recall@2", "ndcg_linear@2"])
    assert v["recall@2"][0] == pytest.approx(1 / 3)
    assert v["ndcg_linear@2"][0] == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_k_larger_than_the_pool():
    # Pools of 1 and 2 candidates, rankings padded to k = 10 with -1: -1 is never relevant.
    r = ranking([["a"], ["b", "a"]], ["a", "b"], k=10)
    v = per_query(r, {"q0": {"a": 1}, "q1": {"a": 2}}, ["hit@10", "ndcg_linear@10", "recall@10", "precision@10",
                                                          "mrr@10"])
    np.testing.assert_allclose(v["hit@10"], [1, 1])
    np.testing.assert_allclose(v["ndcg_linear@10"], [1, 1 / math.log2(3)])
    np.testing.assert_allclose(v["recall@10"], [1, 1])
    np.testing.assert_allclose(v["precision@10"], [0.1, 0.1])
    np.testing.assert_allclose(v["mrr@10"], [1, 0.5])


def test_rankings_shorter_than_the_metric_k_are_refused():
    r = ranking([["a"]], ["a", "b"])  # top 1 only: hit@10 cannot be known
    with pytest.raises(ValueError, match="search with k >= 10"):
        per_query(r, {"q0": {"b": 1}}, ["hit@10"])


def test_from_scores_ties_keep_earlier_candidate():
    scores = np.array([[0.5, 0.9, 0.9, 0.1]])
    rel = np.array([[0, 0, 1, 0]])
    # Candidates 1 and 2 tie at 0.9: 1 (earlier) ranks first, so the relevant 2 is at rank 2.
    v = from_scores(scores, rel, ["hit@1", "hit@2", "mrr@10", "ndcg_linear@2"])
    assert v["hit@1"][0] == 0 and v["hit@2"][0] == 1 and v["mrr@10"][0] == 0.5
    assert v["ndcg_linear@2"][0] == pytest.approx(1 / math.log2(3))
    # Swap the columns: the relevant one is now earlier and wins the tie.
    v = from_scores(scores[:, [0, 2, 1, 3]], rel[:, [0, 2, 1, 3]], ["hit@1"])
    assert v["hit@1"][0] == 1


def test_from_scores_graded_and_k_beyond_columns():
    scores = np.array([[0.1, 0.3, 0.2], [0.3, 0.2, 0.1]])
    rel = np.array([[1, 0, 2], [0, 0, 0]])
    # Row 0 ranks columns [1, 2, 0]: grades [0, 2, 1]; DCG = 2/log2(3) + 1/2, IDCG = 2 + 1/log2(3).
    v = from_scores(scores, rel, ["ndcg_linear@10", "precision@10", "recall@1"])
    assert v["ndcg_linear@10"][0] == pytest.approx((2 / math.log2(3) + 0.5) / (2 + 1 / math.log2(3)))
    np.testing.assert_allclose(v["precision@10"], [0.2, 0])
    np.testing.assert_allclose(v["recall@1"], [0, 0])
    with pytest.raises(ValueError, match="must be equal 2-d shapes"):
        from_scores(scores, rel[:1], ["hit@1"])


def test_from_scores_agrees_with_per_query():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=(20, 15)).astype(np.float32)  # many ties
    grades = rng.choice([0, 0, 1, 2], size=(20, 15))
    names = ["hit@1", "hit@3", "ndcg_linear@5", "recall@5", "mrr@15", "precision@3"]
    order = np.argsort(-scores, axis=1, kind="stable")
    cands = [f"d{c}" for c in range(15)]
    r = Rankings([f"q{q}" for q in range(20)], cands, order, np.take_along_axis(scores, order, axis=1))
    qrels = {f"q{q}": {f"d{c}": int(grades[q, c]) for c in range(15)} for q in range(20)}
    a, b = from_scores(scores, grades, names), per_query(r, qrels, names)
    for name in names:
        np.testing.assert_allclose(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("bad", ["ndcg@5", "hit@0", "hit@", "hit", "recall@-1", "hit@1.5", "HIT@1", "mrr@ 3"])
def test_bad_metric_name(bad):
    with pytest.raises(ConfigError, match=re.escape(f"unknown metric '{bad}'")) as err:
        parse_metric(bad)
    msg = str(err.value)
    assert "\n" not in msg and "ndcg_linear@k" in msg and "precision@k" in msg


def test_parse_metric():
    assert parse_metric("ndcg_linear@5") == ("ndcg_linear", 5)
    assert parse_metric("hit@1") == ("hit", 1)
    assert parse_metric("mrr@100") == ("mrr", 100)


def test_mean():
    assert mean({"hit@1": np.array([1.0, 0.0, 0.5])}) == {"hit@1": 0.5}
    assert math.isnan(mean({"hit@1": np.array([])})["hit@1"])


def test_equal_to_pytrec_eval_on_random_graded_cases():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = np.random.default_rng(7)
    nq, nc, depth = 40, 60, 30
    scores = rng.random((nq, nc))  # continuous: no ties (trec_eval breaks ties by docid, descending)
    assert all(len(np.unique(row)) == nc for row in scores)
    grades = rng.choice([0, 0, 0, 0, 1, 2, 3], size=(nq, nc))
    grades[:, 0] = np.maximum(grades[:, 0], 1)  # trec_eval skips queries without a relevant document
    cands = [f"d{c}" for c in range(nc)]
    qrels = {f"q{q}": {cands[c]: int(grades[q, c]) for c in range(nc) if grades[q, c] > 0} for q in range(nq)}
    measures = {"ndcg_cut.5,10", "success.1,5,10", "recall.10", "recip_rank", "P.5"}
    pairs = {"ndcg_cut_5": "ndcg_linear@5", "ndcg_cut_10": "ndcg_linear@10", "success_1": "hit@1",
             "success_5": "hit@5", "success_10": "hit@10", "recall_10": "recall@10", "P_5": "precision@5"}

    def check(ours: dict[str, np.ndarray], run: dict[str, dict[str, float]], mrr: str) -> None:
        ref = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
        for theirs, mine in {**pairs, "recip_rank": mrr}.items():
            expected = np.array([ref[f"q{q}"][theirs] for q in range(nq)])
            np.testing.assert_allclose(ours[mine], expected, atol=1e-9, err_msg=mine)

    # Full dense matrix: recip_rank (no cutoff) equals mrr@nc.
    full_run = {f"q{q}": {cands[c]: float(scores[q, c]) for c in range(nc)} for q in range(nq)}
    check(from_scores(scores, grades, [*pairs.values(), f"mrr@{nc}"]), full_run, f"mrr@{nc}")

    # A run cut at depth 30, through Rankings: relevant documents left out still count in recall and IDCG.
    order = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
    r = Rankings([f"q{q}" for q in range(nq)], cands, order, np.take_along_axis(scores, order, axis=1))
    cut_run = {f"q{q}": {cands[c]: float(scores[q, c]) for c in order[q]} for q in range(nq)}
    check(per_query(r, qrels, [*pairs.values(), f"mrr@{depth}"]), cut_run, f"mrr@{depth}")


# ---------------------------------------------------------------- the official families: f1, map, ndcg_exponential

def test_official_families_by_hand():
    """Catches a wrong map normaliser (R instead of min(R, k)), a wrong gain in ndcg_exponential, or an f1 that
    is not the harmonic mean of precision and recall."""
    # Ranked [a b c d e]; relevant: b (grade 2), d (grade 1), z (grade 3, not ranked).  R = 3.
    r = ranking([list("abcde")], list("abcdez"))
    qrels = {"q0": {"b": 2, "d": 1, "z": 3}}
    v = per_query(r, qrels, ["map@1", "map@2", "map@5", "f1@1", "f1@5", "ndcg_exponential@5", "ndcg_exponential@1"])
    assert v["map@1"][0] == 0.0
    assert v["map@2"][0] == pytest.approx((1 / 2) / 2)  # one hit at rank 2: P@2 = 1/2, over min(R=3, k=2) = 2
    assert v["map@5"][0] == pytest.approx((1 / 2 + 2 / 4) / 3)  # hits at 2 and 4, over min(3, 5) = 3
    assert v["f1@1"][0] == 0.0
    # P@5 = 2/5, R@5 = 2/3: F1 = 2 * (2/5)(2/3) / (2/5 + 2/3) = (8/15) / (16/15) = 0.5
    assert v["f1@5"][0] == pytest.approx(0.5)
    # DCG@5 = (2^2-1)/log2(3) + (2^1-1)/log2(5) = 3/1.5849625 + 1/2.3219281 = 1.8927893 + 0.4306766
    # IDCG@5 = (2^3-1)/1 + (2^2-1)/log2(3) + (2^1-1)/2 = 7 + 1.8927893 + 0.5
    dcg = 3 / math.log2(3) + 1 / math.log2(5)
    idcg = 7 + 3 / math.log2(3) + 0.5
    assert v["ndcg_exponential@5"][0] == pytest.approx(dcg / idcg)
    assert v["ndcg_exponential@1"][0] == 0.0


def test_map_is_normalised_by_k_when_more_relevant_than_k():
    """The official map@k divides by min(R, k): all of the top 2 relevant out of R = 4 gives 1, not 2/4."""
    r = ranking([list("abcd")], list("abcd"))
    v = per_query(r, {"q0": dict.fromkeys("abcd", 1)}, ["map@2", "map@4"])
    assert v["map@2"][0] == 1.0 and v["map@4"][0] == 1.0


def test_ndcg_exponential_equals_linear_on_binary_grades():
    """Catches an exponential gain applied to the ideal ranking only (or to the DCG only)."""
    rng = np.random.default_rng(5)
    scores, rel = rng.random((30, 12)), rng.choice([0, 0, 1], size=(30, 12))
    v = from_scores(scores, rel, ["ndcg_linear@5", "ndcg_exponential@5", "ndcg_linear@10", "ndcg_exponential@10"])
    np.testing.assert_allclose(v["ndcg_linear@5"], v["ndcg_exponential@5"])
    np.testing.assert_allclose(v["ndcg_linear@10"], v["ndcg_exponential@10"])


def test_official_families_equal_pytrec_eval():
    """map@k against trec_eval map_cut_k (equal when R <= k), ndcg_exponential against ndcg_cut on qrels with
    grades 2^g - 1, f1 against the harmonic mean of trec_eval's P_k and recall_k.  Catches an off-by-one rank in
    map's precision@i and any gain or cut-off slip."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = np.random.default_rng(11)
    nq, nc = 50, 40
    scores = rng.random((nq, nc))
    grades = np.zeros((nq, nc), dtype=int)
    for q in range(nq):  # 1 to 5 relevant candidates, so that R <= 5 <= k for map@5 and map@10
        grades[q, rng.choice(nc, size=rng.integers(1, 6), replace=False)] = rng.integers(1, 4, size=1)
    cands = [f"d{c}" for c in range(nc)]
    qrels = {f"q{q}": {cands[c]: int(grades[q, c]) for c in range(nc) if grades[q, c] > 0} for q in range(nq)}
    exp_qrels = {q: {d: 2 ** g - 1 for d, g in rel.items()} for q, rel in qrels.items()}
    run = {f"q{q}": {cands[c]: float(scores[q, c]) for c in range(nc)} for q in range(nq)}
    names = ["map@5", "map@10", "ndcg_exponential@5", "ndcg_exponential@10", "f1@1", "f1@5", "f1@10"]
    ours = from_scores(scores, grades, names)
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"map_cut.5,10", "P.1,5,10", "recall.1,5,10"}).evaluate(run)
    ref_exp = pytrec_eval.RelevanceEvaluator(exp_qrels, {"ndcg_cut.5,10"}).evaluate(run)
    for q in range(nq):
        t, e = ref[f"q{q}"], ref_exp[f"q{q}"]
        assert ours["map@5"][q] == pytest.approx(t["map_cut_5"])
        assert ours["map@10"][q] == pytest.approx(t["map_cut_10"])
        assert ours["ndcg_exponential@5"][q] == pytest.approx(e["ndcg_cut_5"])
        assert ours["ndcg_exponential@10"][q] == pytest.approx(e["ndcg_cut_10"])
        for k in (1, 5, 10):
            p, rc = t[f"P_{k}"], t[f"recall_{k}"]
            assert ours[f"f1@{k}"][q] == pytest.approx(2 * p * rc / (p + rc) if p + rc else 0.0)


def test_official_key_set_and_task_default():
    """Catches a family or a k missing from the score dict the export writes (the official dict has 24 keys)."""
    from umeval.core.spec import TaskSpec
    from umeval.scoring.metrics import OFFICIAL

    assert OFFICIAL[:4] == ("hit@1", "hit@5", "hit@10", "ndcg_linear@1")
    assert len(OFFICIAL) == 24 and {n.split("@")[0] for n in OFFICIAL} == {
        "hit", "ndcg_linear", "ndcg_exponential", "precision", "recall", "f1", "map", "mrr"}
    assert TaskSpec.__dataclass_fields__["metrics"].default == OFFICIAL
    for name in OFFICIAL:
        parse_metric(name)


def test_a_kind_without_an_implementation_raises(monkeypatch):
    """A kind accepted by the name parser but not implemented must raise, not be computed as another metric."""
    import umeval.scoring.metrics as M

    monkeypatch.setattr(M, "parse_metric", lambda name: ("bogus", 1))
    with pytest.raises(ValueError, match="metric kind 'bogus' has no implementation"):
        M.from_scores(np.ones((1, 2)), np.ones((1, 2)), ["bogus@1"])
