"""`umeval export`: the official MMEB-V2 layout and JSON, the wide csv/markdown table, read back from disk."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _fake_results import fake_run

from umeval.commands import export as E
from umeval.core.registry import discover_tasks
from umeval.results.files import write_json
from umeval.results.task_result import TaskResult
from umeval.scoring.metrics import OFFICIAL

# The metadata fields of the official experiments/report_score_v2.py, then the date it adds.
OFFICIAL_METADATA = ["model_name", "model_backbone", "model_size", "embedding_dimension", "max_length_tokens",
                     "model_release_date", "data_source", "url", "report_generated_date"]
OFFICIAL_SCORE_KEYS = [f"{m}@{k}" for m in ("hit", "ndcg_linear", "ndcg_exponential", "precision", "recall", "f1")
                       for k in (1, 5, 10)] + [f"{m}@{k}" for m in ("map", "mrr") for k in (1, 5, 10)] + [
                       "num_pred", "num_data"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    summary = fake_run(tmp / "out", tmp / "cache")
    return tmp / "out", summary


def test_mmeb_v2_shape_and_round_trip(finished, tmp_path):
    """Catches a wrong file layout, key set or key order, the wrong mode exported (a gen run's entry is its gen
    scores), and any value changed on the way: the exported files, averaged per modality as the official script
    does, give the run's own modality roll-ups."""
    out, summary = finished
    rs = E.load_results([out])
    [path] = E.write_mmeb_v2(rs, tmp_path)
    base = tmp_path / "tiny-qwen2vl"
    assert path == base / "tiny-qwen2vl.json"
    doc = json.loads(path.read_text())
    assert list(doc) == ["metadata", "metrics"]
    assert list(doc["metadata"]) == OFFICIAL_METADATA
    assert doc["metadata"]["embedding_dimension"] == 128 and doc["metadata"]["data_source"] == "Self-Reported"
    assert list(doc["metrics"]) == ["image", "video", "visdoc"]
    assert list(doc["metrics"]["image"]) == ["Mini-ImageCLS"] and list(doc["metrics"]["visdoc"]) == ["Mini-VisDoc"]
    for modality, task in (("image", "Mini-ImageCLS"), ("video", "Mini-T2V"), ("visdoc", "Mini-VisDoc")):
        per_task = json.loads((base / modality / f"{task}_score.json").read_text())
        assert list(per_task) == OFFICIAL_SCORE_KEYS
        assert doc["metrics"][modality][task] == per_task
        stored = TaskResult.read(out / "tiny-qwen2vl/tasks" / task / "gen/scores.json")
        assert {k: per_task[k] for k in OFFICIAL} == {k: stored.metrics[k] for k in OFFICIAL}
        assert per_task["num_pred"] == per_task["num_data"] == stored.n_queries
    board = summary.leaderboard
    rolled = board[(board["level"] == "modality") & (board["mode"] == "gen") & board["is_main"]]
    rolled = rolled.set_index("name")["value"]
    assert E.modality_averages(base) == pytest.approx(rolled.to_dict(), abs=1e-12)
    # --mode disc exports the disc scores instead.
    E.write_mmeb_v2(rs, tmp_path / "d", mode="disc")
    disc = json.loads((tmp_path / "d/tiny-qwen2vl/image/Mini-ImageCLS_score.json").read_text())
    assert disc["hit@1"] == pytest.approx(board.set_index(["name", "mode", "metric"])["value"][
        ("Mini-ImageCLS", "disc", "hit@1")])


def _write_mmeb(out: Path, skip: set[str]) -> dict[str, dict[str, float]]:
    rnd, written = random.Random(1), {}
    for name, spec in discover_tasks().items():
        if spec.benchmark != "MMEB-V2" or name in skip:
            continue
        written[name] = {k: rnd.random() for k in OFFICIAL}
        write_json(out / "ume-r1-2b/tasks" / name / "disc/scores.json", {
            "task": name, "mode": "disc", "model": "ume-r1-2b", "modality": spec.modality, "meta": spec.meta,
            "benchmark": "MMEB-V2", "main_metric": spec.main_metric, "status": "ok", "metrics": written[name],
            "n_queries": 10, "n_tied": 0})
    return written


def test_full_benchmark_lists_every_task(tmp_path):
    """Catches tasks left out of the combined JSON (the official file lists all 78, "FILE_N/A" where absent), a
    missing "-fixed" suffix on the two visdoc keys the official script renames, and a wrong model card."""
    written = _write_mmeb(tmp_path / "res", skip={"OVEN", "MSVD"})
    [path] = E.write_mmeb_v2(E.load_results([tmp_path / "res"]), tmp_path / "exp",
                             metadata={"model_release_date": "2025-10-31"})
    doc = json.loads(path.read_text())
    assert path.name == "UME-R1-2B.json"
    m = doc["metrics"]
    assert [len(m[x]) for x in ("image", "video", "visdoc")] == [36, 18, 24]
    assert list(m["image"])[:3] == ["ImageNet-1K", "N24News", "HatefulMemes"]
    assert m["image"]["OVEN"] == "FILE_N/A" and m["video"]["MSVD"] == "FILE_N/A"
    assert "ViDoSeek-page-fixed" in m["visdoc"] and "MMLongBench-page-fixed" in m["visdoc"]
    assert "ViDoSeek-page" not in m["visdoc"] and "ViDoSeek-doc" in m["visdoc"]
    assert m["video"]["MSR-VTT"] == {**written["MSR-VTT"], "num_pred": 10, "num_data": 10}
    assert doc["metadata"]["model_backbone"] == "Qwen2-VL-2B-Instruct"
    assert doc["metadata"]["embedding_dimension"] == 1536
    assert doc["metadata"]["model_release_date"] == "2025-10-31"
    assert len(list((tmp_path / "exp/ume-r1-2b/visdoc").glob("*_score.json"))) == 24


def test_results_without_the_official_keys_are_refused(tmp_path):
    """A result written before the full metric set (4 families) must not be exported with keys missing."""
    write_json(tmp_path / "m/tasks/T/disc/scores.json", {
        "task": "T", "mode": "disc", "model": "m", "modality": "image", "meta": "I-CLS", "main_metric": "hit@1",
        "status": "ok", "metrics": {"hit@1": 0.5}, "n_queries": 2})
    with pytest.raises(E.DataError, match="has no hit@5, hit@10, ndcg_linear@1 .and 20 more.; rerun"):
        E.write_mmeb_v2(E.load_results([tmp_path]), tmp_path / "x")


def test_wide_table_values(finished):
    """Catches roll-ups that are not the plain mean of the tasks, pass@k columns taken from the wrong mode, and
    columns out of order (modes first, then pass@k)."""
    out, summary = finished
    table = E.wide_table(E.load_results([out / "tiny-qwen2vl"]))
    assert list(table.columns) == ["level", "name", "metric", "disc", "gen", "oracle", "gen pass@1", "gen pass@2",
                                   "gen pass@3", "tasks", "n_queries", "n_tied", "failed", "status"]
    board = summary.leaderboard.set_index(["level", "name", "mode", "metric"])["value"]
    t = table.set_index(["level", "name"])
    for mode in ("disc", "gen", "oracle"):
        assert t.loc[("overall", "All"), mode] == pytest.approx(board[("overall", "All", mode, "main")])
        assert t.loc[("task", "Mini-T2V"), mode] == board[("task", "Mini-T2V", mode, "hit@1")]
    assert t.loc[("task", "Mini-T2V"), "gen pass@3"] == board[("task", "Mini-T2V", "gen", "pass@3")]
    lb = summary.leaderboard
    n_queries = int(lb[(lb["level"] == "task") & (lb["mode"] == "disc") & lb["is_main"]]["n_queries"].sum())
    assert t.loc[("overall", "All"), "tasks"] == 3 and t.loc[("overall", "All"), "n_queries"] == n_queries == 19

    csv = pd.read_csv(pd.io.common.StringIO(E.render(E.load_results([out]), "csv")))
    t2v_disc = board[("task", "Mini-T2V", "disc", "hit@1")]
    assert csv.loc[csv["name"] == "Mini-T2V", "disc"].item() == pytest.approx(t2v_disc)
    md = E.render(E.load_results([out]), "markdown").splitlines()
    assert md[0].startswith("| level | name | metric | disc | gen | oracle |")
    row = next(line for line in md if "| Mini-T2V |" in line)
    assert f"| {100 * board[('task', 'Mini-T2V', 'disc', 'hit@1')]:.1f} |" in row


def test_cli(finished, tmp_path):
    """The command is wired in COMMANDS; mmeb-v2 without -o is a one-line error, not a traceback."""
    out, _ = finished
    run = [sys.executable, "-m", "umeval.cli", "export", str(out)]
    r = subprocess.run(run + ["-o", str(tmp_path / "e")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "e/tiny-qwen2vl/video/Mini-T2V_score.json").exists()
    r = subprocess.run(run, capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "pass -o DIR" in r.stderr
    r = subprocess.run(run + ["-f", "markdown"], capture_output=True, text=True)
    assert r.returncode == 0 and "| overall | All | main |" in r.stdout
    r = subprocess.run([sys.executable, "-m", "umeval.cli", "export", str(tmp_path / "nothing")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr
