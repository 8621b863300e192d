"""Every registered task, end to end: its fixture in the official layout, the real loader, the runner, the scorer
and the result files, with exact expected scores from the weight-free oracle (and range checks for the tiny
random model, where nothing exact is possible)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from umeval.core.config import compose_config
from umeval.core.registry import discover_tasks, task_groups
from umeval.run.runner import run
from umeval.testing.fixtures import expected_scores, relevant_counts

ALL = list(discover_tasks())


def test_the_benchmark_is_exactly_78_tasks(capsys):
    from umeval.cli import main

    groups = task_groups()
    assert (len(groups["all"]), len(groups["image"]), len(groups["video"]), len(groups["visdoc"])) == (78, 36, 18, 24)
    assert main(["list", "tasks", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    bench = [r for r in rows if r["benchmark"] == "MMEB-V2"]
    assert len(bench) == 78
    assert {r["main_metric"] for r in bench if r["modality"] == "visdoc"} == {"ndcg_linear@5"}
    assert {r["main_metric"] for r in bench if r["modality"] != "visdoc"} == {"hit@1"}
    metas = {r["meta_category"] for r in bench}
    assert metas == {"I-CLS", "I-QA", "I-RET", "I-VG", "V-CLS", "V-QA", "V-RET", "V-MRET", "ViDoRe-V1",
                     "ViDoRe-V2", "VisRAG", "VisDoc-OOD"}
    by_name = {r["name"]: r for r in bench}
    assert by_name["SmthSmthV2"]["pool"] == "local" and by_name["K700"]["pool"] == "global"
    assert by_name["YouCook2"]["hub_id"] == "lmms-lab/YouCook2" and by_name["YouCook2"]["split"] == "val"
    assert by_name["ViDoSeek-page"]["hub_id"] == "VLM2Vec/ViDoSeek-page-fixed"
    assert "ViDoRe_esg_reports_v2" not in by_name  # the English-only variant is not one of the 78


@pytest.fixture(scope="module")
def data_root(fixture_root: Path) -> Path:
    return fixture_root


FIXTURE_TASKS = [t for t in ALL if not discover_tasks().get(t).source.generated]


def run_all(model: str, data_root: Path, out: Path, cache: Path, *extra: str, **kw) -> dict[tuple[str, str], dict]:
    """One run of all 78 tasks (shared by the parametrized assertions): (task, mode) -> scores row."""
    cfg = compose_config(["task=all", f"model={model}", f"data_root={data_root}", f"output_dir={out}",
                          f"cache_dir={cache}", "progress=false", "hub=false", *extra])
    summary = run(cfg, **kw)
    return {(s["task"], s["mode"]): s for s in summary.scores}


@pytest.fixture(scope="module")
def oracle_run(data_root, tmp_path_factory):
    """The weight-free oracle on all 78 fixtures, disc and gen (two samples), through the real runner."""
    out = tmp_path_factory.mktemp("oracle-out")
    return run_all("oracle", data_root, out, tmp_path_factory.mktemp("oracle-cache"), "mode=both",
                   "gen.samples=2"), out


@pytest.fixture(scope="module")
def anti_run(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("anti-out")
    return run_all("anti-oracle", data_root, out, tmp_path_factory.mktemp("anti-cache"), "mode=both",
                   "gen.samples=2"), out


@pytest.mark.parametrize("task", FIXTURE_TASKS)
def test_oracle_scores_each_task_exactly(task, oracle_run, anti_run, data_root):
    """Every metric of a perfect ranking, exactly, with no tie deciding it.

    Catches a loader that points the qrels at the wrong candidate, builds a pool in the wrong order or from the
    wrong rows, samples the wrong frames, reads grades wrongly, or a metric computed on the wrong column.
    """
    scores, _ = oracle_run
    spec = discover_tasks().get(task)
    relevant = relevant_counts(data_root, task)
    disc, gen, orc = scores[(task, "disc")], scores[(task, "gen")], scores[(task, "oracle")]
    assert disc["status"] == "ok", disc["error"]
    assert disc["n_queries"] == len(relevant)
    assert disc["metrics"][spec.main_metric] == 1.0 and disc["n_tied"] == 0
    assert disc["metrics"] == expected_scores(relevant, spec.metrics)
    assert disc["data_version"] == f"{spec.source.hub_id}@{spec.source.revision}"
    assert all(isinstance(v, int) for v in disc["notes"].values())
    # gen: sample s is right iff s is even (an odd sample embeds the query as the anti-oracle does), and the gen
    # headline is the mean over samples: pass@1 = 1/2, pass@2 = 1, and every metric is the mean of the oracle's
    # and the anti-oracle's.
    anti = anti_run[0][(task, "disc")]["metrics"]
    assert gen["metrics"][spec.main_metric] == 0.5
    assert gen["metrics"]["pass@1"] == 0.5 and gen["metrics"]["pass@2"] == 1.0
    perfect = expected_scores(relevant, spec.metrics)
    assert {m: gen["metrics"][m] for m in spec.metrics} == pytest.approx(
        {m: (perfect[m] + anti[m]) / 2 for m in spec.metrics}, abs=1e-12)
    assert gen["n_tied"] == 0
    assert gen["diagnostics"]["no_gen_emb_share"] == 0.0 and gen["diagnostics"]["truncated_share"] == 0.0
    # the oracle row: per query the better of disc (perfect) and the gen mean
    assert orc["metrics"] == {spec.main_metric: 1.0}


@pytest.mark.parametrize("task", FIXTURE_TASKS)
def test_anti_oracle_ranks_an_irrelevant_candidate_first(task, anti_run):
    """hit@1 is exactly 0 for every task: a scorer that ignored the ranking (or qrels that match anything) fails.

    Its disc row is 0 and its gen samples are perfect (even) and wrong (odd), so gen and the oracle row (per-query
    max of disc and the gen mean) are exactly 0.5.
    """
    scores, _ = anti_run
    spec = discover_tasks().get(task)
    assert scores[(task, "disc")]["metrics"]["hit@1"] == 0.0
    assert scores[(task, "disc")]["metrics"][spec.main_metric] == 0.0
    assert scores[(task, "gen")]["metrics"][spec.main_metric] == 0.5  # mean of a perfect and a wrong sample
    assert scores[(task, "oracle")]["metrics"] == {spec.main_metric: 0.5}


def test_graded_multi_positive_metrics_by_hand(oracle_run, anti_run):
    """The ViDoRe-V2-shaped fixture (queries with 2, 2, 1, 3 and 2 positives graded 2/1, a grade-0 row and a
    query with no positive dropped), computed by hand from the fixture's design, not from the scorer.

    Catches grades read swapped (the grade-1 page would rank first: NDCG < 1), grade-0 rows kept (recall@k would
    count them), and a global task ranked over the wrong pool.
    """
    from math import log2

    disc = oracle_run[0][("ViDoRe_esg_reports_v2_multilingual", "disc")]["metrics"]
    assert disc["ndcg_linear@5"] == 1.0 and disc["mrr@10"] == 1.0 and disc["hit@1"] == 1.0
    assert disc["recall@1"] == pytest.approx((1 / 2 + 1 / 2 + 1 + 1 / 3 + 1 / 2) / 5, abs=1e-15)
    assert disc["recall@5"] == 1.0
    # The anti-oracle ranks the 12 pages irrelevant first, then weak (grade-1) pages before strong ones: only the
    # query with 3 positives has one (a grade-1 page) in its top 10, at rank 10.
    anti = anti_run[0][("ViDoRe_esg_reports_v2_multilingual", "disc")]["metrics"]
    ndcg10 = (1 / log2(11)) / (2 / log2(2) + 1 / log2(3) + 1 / log2(4)) / 5
    assert anti["ndcg_linear@10"] == pytest.approx(ndcg10, rel=1e-12)
    assert anti["ndcg_linear@5"] == 0.0
    assert anti["hit@10"] == pytest.approx(1 / 5) and anti["recall@10"] == pytest.approx(1 / 3 / 5)
    assert anti["mrr@10"] == pytest.approx(1 / 10 / 5)


def test_roll_ups_of_the_oracle_runs(oracle_run, anti_run):
    """Roll-ups: the oracle's every group is 1.0 over the full count of tasks; the anti-oracle's disc groups are
    0.0, gen 0.5 and oracle 0.5; pass@k rolls up (catches a roll-up over the wrong mode or rows)."""
    import pandas as pd

    for (_, out), disc_value, oracle_value in ((oracle_run, 1.0, 1.0), (anti_run, 0.0, 0.5)):
        board = pd.read_parquet(next(out.glob("*/leaderboard.parquet")))
        ups = board[(board.level != "task") & board.is_main]
        assert set(ups.level) == {"meta", "modality", "overall"}
        assert (ups.n_tasks == ups.n_tasks_expected).all()
        assert (ups[ups["mode"] == "disc"].value == disc_value).all()
        assert (ups[ups["mode"] == "gen"].value == 0.5).all()
        assert (ups[ups["mode"] == "oracle"].value == oracle_value).all()
        passk = board[(board.level == "overall") & (board["mode"] == "gen")].set_index("metric").value
        assert passk["pass@1"] == 0.5 and passk["pass@2"] == 1.0
        overall = ups[(ups.level == "overall") & (ups["mode"] == "disc")]
        assert overall.n_tasks.tolist() == [78]


@pytest.fixture(scope="module")
def tiny_run(data_root, tmp_path_factory, cache_dir, tiny_encoder):
    out = tmp_path_factory.mktemp("tiny-out")
    return run_all("tiny-qwen2vl", data_root, out, cache_dir, encoder_factory=lambda *a, **k: tiny_encoder), out


@pytest.mark.parametrize("task", FIXTURE_TASKS)
def test_tiny_model_end_to_end(task, tiny_run, data_root):
    """The real encoder on every task's fixture.  Its weights are random, so its scores are near chance and only
    their range can be asserted; the counts, files and (below) roll-ups are exact."""
    scores, out = tiny_run
    row = scores[(task, "disc")]
    spec = discover_tasks().get(task)
    assert row["status"] == "ok" and row["n_queries"] == len(relevant_counts(data_root, task))
    assert 0.0 <= row["metrics"][spec.main_metric] <= 1.0  # random weights: nothing exact to assert
    assert (out / "tiny-qwen2vl" / "tasks" / task / "disc" / "per_query.parquet").exists()


def test_tiny_model_roll_ups_are_the_hand_computed_means(tiny_run):
    """Meta, modality and overall rows are the plain means of their tasks' main scores (MMEB-V2's "All")."""
    import numpy as np
    import pandas as pd

    _, out = tiny_run
    board = pd.read_parquet(out / "tiny-qwen2vl" / "leaderboard.parquet")
    tasks = board[(board.level == "task") & board.is_main]
    assert len(tasks) == 78
    for level, col in (("meta", "meta"), ("modality", "modality")):
        for name, group in tasks.groupby(col):
            (value,) = board[(board.level == level) & (board.name == name)].value
            assert value == pytest.approx(float(np.mean(group.value.tolist())), rel=1e-12, abs=1e-15)
    (overall,) = board[board.level == "overall"].value
    assert overall == pytest.approx(float(np.mean(tasks.value.tolist())), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("task", "n", "sample"), [("K700", 700, "playing_lute"), ("UCF101", 101, "ApplyEyeMakeup"),
                                                   ("HMDB51", 51, "brush_hair"), ("Breakfast", 10, "scrambledegg")])
def test_global_video_classification_ranks_the_official_label_list(task, n, sample, data_root):
    """The pool is the rows' labels in order of first appearance, then the rest of the dataset's fixed list."""
    from umeval.loaders import LoadContext, load_task

    spec = discover_tasks().get(task)
    labels = spec.options["labels"]
    assert len(labels) == len(set(labels)) == n and sample in labels  # official names keep underscores/case
    data = load_task(spec, LoadContext(data_root=data_root, allow_hub=False))
    row_labels = list(dict.fromkeys(label for q in data.qrels.values() for label in q))
    names = [c.id for c in data.candidates]
    assert names[: len(row_labels)] == row_labels
    assert names[len(row_labels):] == [x for x in labels if x not in set(row_labels)]


def test_selftest_passes_on_all_78_tasks(tmp_path):
    """`umeval selftest` itself (in process) on the 78 tasks: exit 0 and one passing row per task.

    Catches a selftest that compares against the wrong expectations or skips tasks (CI runs it this way).
    """
    import io

    from umeval.commands.selftest import run_selftest

    buf = io.StringIO()
    code, records = run_selftest(["task=all"], keep=str(tmp_path), out=buf)
    assert code == 0, buf.getvalue()
    assert len(records) == 78 and not any(r["problems"] for r in records)
    assert buf.getvalue().count(" ok\n") == 78
