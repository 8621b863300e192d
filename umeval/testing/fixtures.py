"""Test support: task fixtures with known answers, for ``umeval selftest`` and the tests.

:func:`write_fixture` writes a task's data in its official on-disk layout with the writer its family's loader
registered (:mod:`umeval.loaders.registry`; the writers are in :mod:`umeval.data.synthetic`) plus the answer key,
and :func:`expected_scores` gives what a perfect ranking scores on it.  The product side (the embedded
default, :mod:`umeval.data.embedded`) never imports this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from umeval.core.spec import TaskSpec
from umeval.data.synthetic import relevant_counts as relevant_counts  # selftest reads the answer key from here
from umeval.data.synthetic import write_task_data


def write_fixture(spec: TaskSpec, root: str | os.PathLike[str], *, seed: int = 0, **kw: Any) -> Path:
    """Write ``spec``'s fixture under ``root`` (its data root) and return the root.

    The writer is the one ``spec.family``'s loader registered (an unknown family is a one-line ConfigError).
    What a perfect ranking scores follows from the fixture's design: ``<root>/.expected/<task>.json`` records
    the number of relevant candidates of each query the loader keeps, in order (see :func:`expected_scores`).
    """
    return write_task_data(spec, root, seed=seed, **kw)


def expected_scores(relevant: list[int], metrics: list[str] | tuple[str, ...]) -> dict[str, float]:
    """Mean metrics of a perfect ranking (every relevant candidate first, higher grades first).

    hit@k, mrr@k, ndcg_linear@k, ndcg_exponential@k and map@k (official: divided by min(R, k)) are 1; recall@k
    is the mean of min(k, R) / R, precision@k of min(k, R) / k and f1@k of their harmonic mean, over the
    queries' relevant counts R.  A metric kind not listed here is an error, never a guess.
    """
    from umeval.scoring.metrics import parse_metric

    def perfect(kind: str, k: int, r: int) -> float:
        p, rec = min(k, r) / k, min(k, r) / r
        by_kind = {"hit": 1.0, "mrr": 1.0, "ndcg_linear": 1.0, "ndcg_exponential": 1.0, "map": 1.0,
                   "recall": rec, "precision": p, "f1": 2 * p * rec / (p + rec)}
        if kind not in by_kind:
            raise ValueError(f"no perfect-ranking value for metric kind '{kind}'")
        return by_kind[kind]

    out = {}
    for m in metrics:
        kind, k = parse_metric(m)
        out[m] = float(np.mean([perfect(kind, k, r) for r in relevant]))
    return out
