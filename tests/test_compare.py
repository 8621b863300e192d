"""`umeval compare` on generated per-query results: identical, noise-level and injected regressions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from umeval.cli import main
from umeval.commands.compare import compare, load_side


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


# ---------------------------------------------------------------- issue 12, failure 5: a gate that can't be fooled

def write_result(root: Path, task: str, values: np.ndarray | None, mode: str = "disc", status: str = "ok",
                 benchmark: str | None = None, metric: str = "hit@1") -> None:
    d = root / "tasks" / task / mode
    d.mkdir(parents=True)
    if values is not None:
        pd.DataFrame({"query_id": [f"q{i}" for i in range(len(values))], metric: values}).to_parquet(
            d / "per_query.parquet")
    (d / "scores.json").write_text(json.dumps({"task": task, "mode": mode, "status": status, "main_metric": metric,
                                               "benchmark": benchmark, "error": "boom" if status != "ok" else None}))


def test_missing_failed_and_one_sided_modes_fail_the_gate(tmp_path, base_scores, capsys):
    """A task failed or missing on the candidate side, or a mode only the baseline has, was dropped: exit 0."""
    a, b = tmp_path / "a", tmp_path / "b"
    for t in ("T0", "T1", "T2"):
        write_result(a, t, base_scores[t])
    write_result(a, "T0", base_scores["T0"], mode="gen")
    write_result(b, "T0", base_scores["T0"])
    write_result(b, "T1", None, status="failed")
    write_result(b, "T3", base_scores["T3"])  # candidate only: reported as new, not a failure
    assert main(["compare", str(a), str(b), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    line = out.split("not comparable: ")[1].splitlines()[0]
    assert line == "T0/gen (missing), T1/disc (failed), T2/disc (missing)"
    status = {(r.task, r.mode): r.status for r in compare(load_side(a), load_side(b))}
    assert status[("T3", "disc")] == "new" and status[("T0", "disc")] == "ok"
    assert main(["compare", str(a), str(b), "--fail-on-regression", "--allow-missing"]) == 0


def test_query_mismatch_is_reported_with_each_sides_own_score(tmp_path):
    """A `limit=2` candidate was compared on 2 shared queries and labelled "baseline 50.00" (real: 33.3)."""
    base = np.array([1.0, 0.0] + [1.0, 0.0, 0.0, 0.0] * 12)  # 50 queries, mean 0.26; its first two: 0.5
    a, b = tmp_path / "a", tmp_path / "b"
    write_result(a, "T", base)
    write_result(b, "T", base[:2])
    (row,) = [r for r in compare(load_side(a), load_side(b)) if r.task == "T"]
    assert row.baseline == pytest.approx(base.mean()) and row.candidate == pytest.approx(0.5)
    assert row.status == "query mismatch" and row.n_baseline == 50 and row.n_candidate == 2 and row.n_queries == 2
    assert "48 of 50 queries on one side only" in row.note
    assert main(["compare", str(a), str(b), "--fail-on-regression"]) == 1
    assert main(["compare", str(a), str(b), "--fail-on-regression", "--query-tolerance", "0.97"]) == 0


def test_reported_interval_and_decision_are_the_same_test(tmp_path, base_scores):
    """A regression was flagged although its printed 95% interval contained zero (one-sided test, two-sided
    interval).  Here the one-sided share is 0.043 < 0.05 but the two-sided interval reaches +0.25."""
    worse = flip(flip(base_scores["T0"], 17, 0.0, 1), 8, 1.0, 2)
    a, b = write_side(tmp_path / "a", {"T0": base_scores["T0"]}), write_side(tmp_path / "b", {"T0": worse})
    rows = compare(load_side(a), load_side(b))
    (row,) = [r for r in rows if r.task == "T0"]
    assert row.delta_points == pytest.approx(-2.25) and row.p_not_worse < 0.05 and row.ci_high >= 0
    assert not row.regression
    assert all(r.ci_high < 0 for r in rows if r.regression)
    assert main(["compare", str(a), str(b), "--fail-on-regression"]) == 0


def test_markdown_is_one_table_regressions_first_and_all_needs_every_task(tmp_path, base_scores):
    """The report must paste into a PR as one table, regressions first; "All" only when both sides have every
    task of the benchmark (here the 3-task `mini`), else a "shared" row that says it is not comparable."""
    tasks = ("Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for i, t in enumerate(tasks):
        write_result(a, t, base_scores[f"T{i}"], benchmark="mini")
        write_result(b, t, flip(base_scores[f"T{i}"], 40, 0.0, 3) if t == "Mini-VisDoc" else base_scores[f"T{i}"],
                     benchmark="mini")
        if t != "Mini-T2V":
            write_result(c, t, base_scores[f"T{i}"], benchmark="mini")
    md = tmp_path / "r.md"
    assert main(["compare", str(a), str(b), "--markdown", str(md), "--fail-on-regression"]) == 1
    lines = md.read_text().splitlines()
    assert sum(ln.startswith("|---") for ln in lines) == 1
    table = [ln for ln in lines if ln.startswith("| ")][1:]
    assert table[0].startswith("| **regression** | Mini-VisDoc | disc |")
    assert any(ln.split(" | ")[1] == "All" for ln in table)
    shared = [r for r in compare(load_side(a), load_side(c)) if r.task.startswith("shared")]
    assert [r.task for r in shared] == ["shared (2 of 3)"] and "not comparable" in shared[0].note


def test_overall_row_shows_each_sides_own_scores_and_the_mismatch(tmp_path, base_scores):
    """The overall row over a `limit`ed candidate showed both sides' scores over the paired queries only."""
    a, b = tmp_path / "a", tmp_path / "b"
    for t in ("T0", "T1"):
        write_result(a, t, base_scores[t])
    write_result(b, "T0", base_scores["T0"])
    write_result(b, "T1", base_scores["T1"][:40])
    rows = compare(load_side(a), load_side(b))
    (overall,) = [r for r in rows if r.task == "All" or r.task.startswith("shared")]
    assert overall.baseline == pytest.approx(np.mean([base_scores["T0"].mean(), base_scores["T1"].mean()]))
    assert overall.candidate == pytest.approx(np.mean([base_scores["T0"].mean(), base_scores["T1"][:40].mean()]))
    assert overall.delta_points == 0 and overall.status == "query mismatch"
    assert (overall.n_baseline, overall.n_candidate, overall.n_queries) == (800, 440, 440)


QWEN3_2B = Path(__file__).resolve().parents[1] / "umeval/models/qwen3_vl_embedding/reference/Qwen3-VL-Embedding-2B.json"


def test_a_category_reference_pairs_categories_with_the_candidates_task_means(tmp_path, capsys):
    """Catches a category reference that compare cannot read (authors publishing only category means, Qwen3-VL-
    Embedding, would have no baseline), percent compared with fractions, a category mean weighted by queries
    instead of the table's unweighted task mean, "All" taken as the mean of category means (the table's is over
    78 tasks), a table name mapped to the wrong group, and a part-finished category passed off as comparable."""
    from umeval.core.registry import task_groups

    groups = task_groups()
    rng = np.random.default_rng(1)
    means = {t: round(float(rng.uniform(0.2, 0.9)), 2) for t in groups["all"]}
    cand = tmp_path / "cand"
    for i, (t, m) in enumerate(means.items()):  # query counts differ per task: a weighted mean would differ
        n = 100 + 50 * (i % 3)
        k = round(m * n)
        write_result(cand, t, np.r_[np.ones(k), np.zeros(n - k)], benchmark="MMEB-V2")
    ref = json.loads(QWEN3_2B.read_text())
    assert main(["compare", str(QWEN3_2B), str(cand), "--json", str(tmp_path / "r.json"),
                 "--fail-on-regression"]) == 0
    rows = {r["task"]: r for r in json.loads((tmp_path / "r.json").read_text())}
    assert len(rows) == 16 and all(r["status"] == "ok" for r in rows.values())
    exact = {t: round(m * (100 + 50 * (i % 3))) / (100 + 50 * (i % 3)) for i, (t, m) in enumerate(means.items())}
    for name, group in (("Image-GD", "I-VG"), ("VisDoc-OOD", "VisDoc-OOD"), ("Video-Overall", "video"),
                        ("All", "all")):
        r = rows[f"{name} [{group}]"]
        assert r["baseline"] == pytest.approx(ref["categories"][name] / 100)
        assert r["candidate"] == pytest.approx(np.mean([exact[t] for t in groups[group]]))
        assert r["delta_points"] == pytest.approx(100 * (r["candidate"] - r["baseline"]))
    assert "Image-GD [I-VG]" in capsys.readouterr().out
    # One video task unfinished: its category and the modality and All rows are incomplete, the gate fails.
    (cand / "tasks" / "MSVD" / "disc" / "per_query.parquet").unlink()
    assert main(["compare", str(QWEN3_2B), str(cand), "--json", str(tmp_path / "r.json"),
                 "--fail-on-regression"]) == 1
    bad = {r["task"]: r for r in json.loads((tmp_path / "r.json").read_text()) if r["status"] != "ok"}
    assert set(bad) == {"Video-RET [V-RET]", "Video-Overall [video]", "All [all]"}
    assert "4 of 5 tasks" in bad["Video-RET [V-RET]"]["note"] and "MSVD" in bad["Video-RET [V-RET]"]["note"]


def test_a_category_reference_with_a_wrong_task_count_is_one_line(tmp_path, capsys):
    """Catches a table whose category counts other tasks than umeval's group being compared silently."""
    doc = json.loads(QWEN3_2B.read_text())
    doc["datasets"]["Image-CLS"] = 9
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    write_result(tmp_path / "cand", "ImageNet-1K", np.ones(3), benchmark="MMEB-V2")
    assert main(["compare", str(bad), str(tmp_path / "cand")]) != 0
    err = capsys.readouterr().err
    assert "Image-CLS" in err and "9" in err and "bad.json" in err
