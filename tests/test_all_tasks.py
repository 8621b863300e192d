"""Every registered task, end to end: its fixture in the official layout, the real loader, the tiny model,
the scorer and the result files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixture_patch import fill_candidate_images

from umeval.config import compose_config
from umeval.fixtures import write_fixture
from umeval.registry import discover_tasks, task_groups
from umeval.runner import run

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
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mmeb")
    for _, spec in discover_tasks().items():
        if not spec.source.generated:
            write_fixture(spec, root, seed=1)
            fill_candidate_images(spec, root)
    return root


@pytest.mark.parametrize("task", [t for t in ALL if not discover_tasks().get(t).source.generated])
def test_task_end_to_end(task, data_root, tmp_path, cache_dir, tiny_encoder):
    cfg = compose_config([f"task={task}", "model=tiny-qwen2vl", f"data_root={data_root}", f"output_dir={tmp_path}",
                          f"cache_dir={cache_dir}", "progress=false", "hub=false"])
    summary = run(cfg, encoder_factory=lambda *a, **k: tiny_encoder)
    (scores,) = summary.scores
    assert scores["status"] == "ok" and scores["n_queries"] > 0
    spec = discover_tasks().get(task)
    assert scores["data_version"] == f"{spec.source.hub_id}@{spec.source.revision}"
    assert all(isinstance(v, int) for v in scores["notes"].values())
    assert 0.0 <= scores["metrics"][spec.main_metric] <= 1.0
    assert (tmp_path / "tiny-qwen2vl" / "tasks" / task / "disc" / "per_query.parquet").exists()


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
