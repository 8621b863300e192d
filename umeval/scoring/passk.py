"""pass@k over repeated sampled generations, and the disc/gen oracle.

pass@k: with n sampled query embeddings per query and a per-sample score v_1..v_n (hit@1 is 0/1; NDCG is
graded), pass@k is the expected best score among k samples drawn without replacement, averaged over queries.
Sorting a query's scores ascending, v_(1) <= ... <= v_(n), the unbiased estimator is

    E[max over a random k-subset] = sum_i v_(i) * C(i-1, k-1) / C(n, k)

because v_(i) is the maximum of exactly C(i-1, k-1) of the C(n, k) subsets.  For 0/1 scores with c successes
this is the estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code"),
1 - C(n-c, k) / C(n, k); with k = n it is the exact max.

Oracle: per query, the better of the discriminative and the generative score under the task's main metric
(UME-R1 paper, "oracle" rows), averaged over queries.
"""

from __future__ import annotations

from math import comb

import numpy as np

#: The most samples pass@k can be computed for: above it C(n, k) for some k of :func:`ks_for` (n/2 at most) no
#: longer fits a float64 (1.8e308), and :func:`pass_at_k` would raise OverflowError after every trace is drawn.
#: Checked when the config is built (``gen.samples``); ``tests/test_trust.py`` proves 1029 fits and 1030 does not.
MAX_SAMPLES = 1029


def ks_for(n: int) -> list[int]:
    """1, 2, 4, ... up to n (n itself included)."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n] if n >= 1 else []


def pass_at_k(values: np.ndarray, k: int) -> np.ndarray:
    """Per-query pass@k from per-sample scores ``values`` of shape (n_queries, n_samples)."""
    v = np.sort(np.asarray(values, dtype=np.float64), axis=1)
    n = v.shape[1]
    if not 1 <= k <= n:
        raise ValueError(f"k={k} needs 1 <= k <= n_samples={n}")
    weights = np.array([comb(i, k - 1) for i in range(n)], dtype=np.float64) / comb(n, k)
    return v @ weights


def pass_curve(values: np.ndarray) -> dict[str, float]:
    """``{"pass@1": ..., "pass@2": ..., ...}`` means over queries for k in :func:`ks_for`."""
    n = values.shape[1]
    return {f"pass@{k}": float(pass_at_k(values, k).mean()) for k in ks_for(n)}


def oracle(disc: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """Per-query max of two aligned per-query score arrays."""
    disc, gen = np.asarray(disc, dtype=np.float64), np.asarray(gen, dtype=np.float64)
    if disc.shape != gen.shape:
        raise ValueError(f"disc {disc.shape} and gen {gen.shape} scores are not aligned")
    return np.maximum(disc, gen)
