"""The metric registry (issue 15): a kind registers with its formula; the name parser follows the registry."""

from __future__ import annotations

import numpy as np
import pytest

import umeval.scoring.metrics as M
from umeval.core.errors import ConfigError


def test_every_kind_is_registered_with_its_formula_in_the_official_order():
    # Catches a kind without its formula, or a registry order that reorders the official score keys.
    assert M.KINDS == ("hit", "ndcg_linear", "ndcg_exponential", "precision", "recall", "f1", "map", "mrr")
    for kind, fn in M.METRICS.items():
        assert (fn.__doc__ or "").startswith(f"{kind}@k = "), kind


def test_a_registered_kind_is_parsed_and_computed(monkeypatch):
    # Catches a name parser that keeps its own list of kinds (a registered metric would be "unknown").
    monkeypatch.setitem(M.METRICS, "first_grade", lambda g, ideal, n_rel, k: g[:, 0])
    with pytest.raises(ValueError, match="needs its formula"):
        M.register_metric("undocumented")(lambda g, ideal, n_rel, k: g[:, 0])
    out = M.from_scores(np.array([[0.1, 0.9]]), np.array([[0.0, 2.0]]), ["first_grade@1"])
    assert out["first_grade@1"].tolist() == [2.0]


def test_a_kind_must_fit_the_name_pattern_and_state_its_formula():
    # Catches a kind that can never be parsed (upper case, an "@" in it) and a docstring that is not the
    # formula: registration refuses both, so the registry never lists a metric no name can select or explain.
    fn = M.hit
    for kind in ("Hit2", "hit@2", "2hit", "my-metric"):
        with pytest.raises(ValueError, match="does not fit the name pattern"):
            M.register_metric(kind)(fn)
    with pytest.raises(ValueError, match="starting 'hit2@k = '"):
        M.register_metric("hit2")(fn)  # its docstring states hit@k's formula
    assert "hit2" not in M.METRICS and "Hit2" not in M.METRICS


def test_a_kind_registered_twice_and_an_unknown_kind_raise():
    # Catches a second registration silently replacing a metric, and an unknown kind computed as another.
    with pytest.raises(ValueError, match="'hit' is registered twice"):
        M.register_metric("hit")(M.hit)
    with pytest.raises(ConfigError, match="unknown metric 'ndcg@5'"):
        M.parse_metric("ndcg@5")
    with pytest.raises(ConfigError, match="unknown metric 'ndcg@5'"):  # computing, not only parsing
        M.from_scores(np.array([[0.1, 0.9]]), np.array([[0.0, 2.0]]), ["ndcg@5"])
