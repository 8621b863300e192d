"""`umeval compare` on generated per-query results: identical, noise-level and injected regressions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from umeval.cli import main
from umeval.compare import compare, load_side


def write_side(root: Path, scores: dict[str, np.ndarray], metric: str = "hit@1") -> Path:
    for task, values in scores.items():
        d = root / "tasks" / task / "disc"
        d.mkdir(parents=True)
        pd.DataFrame({"query_id": [f"q{i}" for i in range(len(values))], metric: values}).to_parquet(
            d / "per_query.parquet")
        (d / "scores.json").write_text(json.dumps({"task": task, "mode": "disc", "status": "ok",
                                                   "main_metric": metric}))
    return root


@pytest.fixture
def base_scores():
    rng = np.random.default_rng(0)
    return {f"T{t}": (rng.random(400) < 0.6).astype(float) for t in range(6)}


def flip(values: np.ndarray, n: int, to: float, seed: int) -> np.ndarray:
    out = values.copy()
    idx = np.flatnonzero(values != to)
    out[np.random.default_rng(seed).choice(idx, size=n, replace=False)] = to
    return out


def test_identical_results_pass(tmp_path, base_scores):
    a = write_side(tmp_path / "a", base_scores)
    b = write_side(tmp_path / "b", base_scores)
    rows = compare(load_side(a), load_side(b))
    assert all(r.delta_points == 0 and not r.regression for r in rows)
    assert main(["compare", str(a), str(b), "--fail-on-regression"]) == 0


def test_noise_level_difference_passes(tmp_path, base_scores):
    # 2 of 400 queries flip each way per task: a tiny, insignificant change.
    noisy = {t: flip(flip(v, 2, 0.0, 1), 2, 1.0, 2) for t, v in base_scores.items()}
    a, b = write_side(tmp_path / "a", base_scores), write_side(tmp_path / "b", noisy)
    assert main(["compare", str(a), str(b), "--fail-on-regression"]) == 0


def test_injected_regression_fails_and_names_tasks(tmp_path, base_scores, capsys):
    worse = dict(base_scores)
    for t in ("T1", "T3", "T4"):  # -4 points on three tasks (16 of 400 hits lost)
        worse[t] = flip(base_scores[t], 16, 0.0, 3)
    a, b = write_side(tmp_path / "a", base_scores), write_side(tmp_path / "b", worse)
    md = tmp_path / "report.md"
    code = main(["compare", str(a), str(b), "--fail-on-regression", "--threshold", "1", "--markdown", str(md)])
    assert code == 1
    out = capsys.readouterr().out
    assert "regression" in out and "T1/disc" in out and "T3/disc" in out and "T4/disc" in out
    assert "T0/disc" not in out.split("regression (")[-1]
    rows = {r.task: r for r in compare(load_side(a), load_side(b))}
    assert rows["T1"].delta_points == pytest.approx(-4.0)
    overall = next(r for r in rows.values() if r.task.startswith("shared"))  # T0..T5 are not a full benchmark
    assert overall.delta_points == pytest.approx(-2.0)
    assert md.read_text().splitlines()[4].startswith("| **regression** | ")  # regressions first
    # Without the flag the report is the same but the exit code stays 0.
    assert main(["compare", str(a), str(b)]) == 0


def test_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no tasks/ folder" in err[0]
