"""Leaderboard roll-ups on a hand-built table."""

import math

import numpy as np
import pytest

from umeval.core.errors import UmevalError
from umeval.results.files import LEADERBOARD_COLUMNS, atomic_write, leaderboard


def s(task, meta, modality, value, main="hit@1", status="ok"):
    return {"task": task, "mode": "disc", "model": "m", "status": status, "metrics": {main: value, "hit@5": 1.0},
            "main_metric": main, "meta": meta, "modality": modality, "benchmark": "B", "n_queries": 10,
            "n_tied": 1}


def test_rollups_are_unweighted_means_of_task_scores():
    scores = [s("A", "I-CLS", "image", 0.2), s("B", "I-CLS", "image", 0.4), s("C", "I-QA", "image", 0.9),
              s("D", "V-RET", "video", 0.5), s("E", "ViDoRe-V1", "visdoc", 0.7, main="ndcg_linear@5")]
    df = leaderboard(scores)
    assert list(df.columns) == LEADERBOARD_COLUMNS
    get = df.set_index(["level", "name"])["value"]
    assert math.isclose(get[("meta", "I-CLS")], 0.3)
    assert math.isclose(get[("modality", "image")], 0.5)  # (0.2 + 0.4 + 0.9) / 3, not the mean of meta means
    # "All" is the plain mean over the five tasks (0.54), not the mean of modality means (0.5667).
    assert math.isclose(get[("overall", "All")], (0.2 + 0.4 + 0.9 + 0.5 + 0.7) / 5)
    tasks = df[df.level == "task"]
    assert len(tasks) == 10  # two metrics per task
    assert tasks[tasks.is_main].set_index("task").loc["E", "metric"] == "ndcg_linear@5"


def test_failed_task_is_visible_and_not_averaged():
    scores = [s("A", "I-CLS", "image", 0.2), {**s("B", "I-CLS", "image", 0.0, status="failed"), "metrics": {},
                                              "error": "task B: file x: missing"}]
    df = leaderboard(scores)
    row = df[(df.level == "meta") & (df.name == "I-CLS")].iloc[0]
    assert math.isclose(row.value, 0.2) and row.n_tasks == 1 and row.n_tasks_expected == 2
    assert row.status == "incomplete"
    failed = df[(df.level == "task") & (df.task == "B")].iloc[0]
    assert failed.status == "failed" and np.isnan(failed.value) and "missing" in failed.error


def test_expected_counts_mark_partial_benchmark():
    df = leaderboard([s("A", "I-CLS", "image", 0.2)], {"overall": {"All": 78}})
    row = df[df.level == "overall"].iloc[0]
    assert row.n_tasks == 1 and row.n_tasks_expected == 78 and row.status == "incomplete"


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("old")

    def boom(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(UmevalError) as e:
        atomic_write(p, boom)
    assert str(e.value).startswith(f"cannot write {p} (disk full); free disk space")
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["x.json"]


def test_benchmarks_are_never_averaged_together():
    """With accumulating leaderboards, the mini demo and real tasks under one model name would otherwise share
    one "All" (and one "I-CLS": mini reuses MMEB-V2's meta names)."""
    scores = [s("A", "I-CLS", "image", 0.2), {**s("M", "I-CLS", "image", 0.8), "benchmark": "mini"}]
    df = leaderboard(scores)
    get = df.set_index(["level", "name"])["value"]
    assert get[("overall", "All (B)")] == pytest.approx(0.2) and get[("overall", "All (mini)")] == pytest.approx(0.8)
    assert get[("meta", "I-CLS (mini)")] == pytest.approx(0.8)
    assert ("overall", "All") not in get.index


def test_pass_at_k_and_stale_rows_in_rollups():
    """pass@k rolls up like the main score; a stale task is shown but never averaged (issue 12)."""
    gen = [{**s(t, "I-CLS", "image", v), "mode": "gen", "metrics": {"hit@1": v, "pass@1": v, "pass@2": v2}}
           for t, v, v2 in (("A", 0.2, 0.3), ("B", 0.4, 0.6))]
    old = {**s("C", "I-CLS", "image", 0.9), "mode": "gen", "status": "stale", "metrics": {"hit@1": 0.9}}
    df = leaderboard([*gen, old])
    roll = df[df.level == "meta"].set_index("metric")
    assert roll.loc["main", "value"] == pytest.approx(0.3) and roll.loc["pass@2", "value"] == pytest.approx(0.45)
    assert roll.loc["main", "n_tasks"] == 2 and roll.loc["main", "status"] == "incomplete"
    assert df[(df.level == "task") & (df.task == "C")].status.eq("stale").all()
