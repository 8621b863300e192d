"""pass@k and the oracle on hand-built per-sample scores, against brute force over all k-subsets."""

from itertools import combinations

import numpy as np
import pytest

from umeval.scoring.passk import ks_for, oracle, pass_at_k, pass_curve


def brute(values: np.ndarray, k: int) -> np.ndarray:
    n = values.shape[1]
    return np.array([np.mean([max(row[list(s)]) for s in combinations(range(n), k)]) for row in values])


def test_hit_at_1_by_hand():
    # 4 samples; query A hits with 1 of them, B with none, C with all.
    v = np.array([[0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=float)
    # pass@1 = c/n; pass@2 for A = 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5; pass@4 = any hit.
    np.testing.assert_allclose(pass_at_k(v, 1), [0.25, 0, 1])
    np.testing.assert_allclose(pass_at_k(v, 2), [0.5, 0, 1])
    np.testing.assert_allclose(pass_at_k(v, 4), [1, 0, 1])
    assert pass_curve(v) == pytest.approx({"pass@1": 1.25 / 3, "pass@2": 0.5, "pass@4": 2 / 3})


@pytest.mark.parametrize("n", [1, 3, 5, 8])
def test_unbiased_estimator_equals_brute_force(n):
    rng = np.random.default_rng(n)
    graded = rng.random((6, n)).round(2)  # NDCG-like values, with repeats
    binary = (rng.random((6, n)) < 0.3).astype(float)
    for v in (graded, binary):
        for k in range(1, n + 1):
            np.testing.assert_allclose(pass_at_k(v, k), brute(v, k), atol=1e-12)


def test_ks_and_bounds():
    assert ks_for(1) == [1] and ks_for(4) == [1, 2, 4] and ks_for(6) == [1, 2, 4, 6]
    with pytest.raises(ValueError):
        pass_at_k(np.zeros((2, 3)), 4)


def test_oracle_hit_and_ndcg():
    disc_hit, gen_hit = np.array([1, 0, 0, 1.0]), np.array([0, 0, 1, 1.0])
    assert oracle(disc_hit, gen_hit).mean() == 0.75  # queries 0, 2, 3 are solved by one of the two
    disc_ndcg, gen_ndcg = np.array([0.5, 0.2, 0.0]), np.array([0.3, 0.9, 0.0])
    np.testing.assert_allclose(oracle(disc_ndcg, gen_ndcg), [0.5, 0.9, 0.0])
    with pytest.raises(ValueError):
        oracle(np.zeros(2), np.zeros(3))
