"""`umeval run` end to end on the embedded default, as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from umeval.results.files import LEADERBOARD_COLUMNS
from umeval.results.task_result import TaskResult


def umeval(*args: str, cache: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UMEVAL_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "umeval.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, tiny_model, cache_dir):
    out = tmp_path_factory.mktemp("results")
    r = umeval("run", "task=mini", "model=tiny-qwen2vl", f"output_dir={out}", "progress=false", cache=cache_dir)
    assert r.returncode == 0, r.stderr
    return out, r


def test_demo_writes_leaderboard(demo_run):
    out, r = demo_run
    df = pd.read_parquet(out / "tiny-qwen2vl" / "leaderboard.parquet")
    assert list(df.columns) == LEADERBOARD_COLUMNS
    assert df["value"].between(0, 1).all()  # random weights: the values are near chance, only their range is known
    tasks = df[(df.level == "task") & df.is_main]
    assert sorted(tasks.task) == ["Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc"]
    assert dict(zip(tasks.task, tasks.metric))["Mini-VisDoc"] == "ndcg_linear@5"
    assert set(df.level) == {"task", "meta", "modality", "overall"}
    assert df["git_commit"].notna().all() and df["config_hash"].str.len().eq(16).all()
    overall = df[df.level == "overall"].iloc[0]
    assert overall.value == pytest.approx(tasks.value.mean())
    assert (out / "leaderboard.parquet").exists()
    pq = pd.read_parquet(out / "tiny-qwen2vl" / "tasks" / "Mini-VisDoc" / "disc" / "per_query.parquet")
    assert len(pq) == 5 and {"query_id", "ndcg_linear@5", "tied", "topk_ids", "topk_scores"} <= set(pq.columns)
    assert "Mini-T2V" in r.stdout and "overall" in r.stdout  # the summary table


def test_rerun_encodes_nothing(demo_run, cache_dir):
    out, _ = demo_run
    before = pd.read_parquet(out / "tiny-qwen2vl" / "leaderboard.parquet")
    r = umeval("run", "task=mini", "model=tiny-qwen2vl", f"output_dir={out}", "progress=false", cache=cache_dir)
    assert r.returncode == 0, r.stderr
    assert "(0 items encoded)" in r.stdout
    after = pd.read_parquet(out / "tiny-qwen2vl" / "leaderboard.parquet")
    pd.testing.assert_series_equal(before["value"], after["value"])
    assert json.loads((out / "tiny-qwen2vl" / "run.json").read_text())["encoder_calls"] == 0


def test_unknown_task_fails_before_loading(tmp_path, cache_dir):
    r = umeval("run", "task=Mini-T2W", f"output_dir={tmp_path}", cache=cache_dir)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "error: unknown task or group 'Mini-T2W'; did you mean Mini-T2V? see `umeval list tasks`"]
    assert not any(tmp_path.iterdir())


def test_missing_data_file_names_path_and_fix(tmp_path, cache_dir, tiny_model):
    """A task whose local copy is missing (and the hub is off) fails before weights load, naming the path."""
    import shutil

    from umeval.core.registry import resolve_tasks
    from umeval.data.embedded import ensure_generated

    cache = tmp_path / "cache"
    shutil.copytree(cache_dir / "models", cache / "models")
    root = ensure_generated(resolve_tasks("mini"), cache)
    victim = root / "umeval-mini" / "MSR-VTT" / "test_1k" / "test-00000-of-00001.parquet"
    victim.unlink()
    out = tmp_path / "out"
    r = umeval("run", "task=mini", f"output_dir={out}", "progress=false", cache=cache)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "task Mini-T2V" in lines[0] and "test_1k/test-*.parquet" in lines[0] and "hf download" in lines[0]
    assert not out.exists() or not list(out.rglob("*.parquet"))


def test_corrupt_image_and_keep_going(tmp_path, cache_dir, tiny_model):
    import shutil

    from umeval.core.registry import resolve_tasks
    from umeval.data.embedded import ensure_generated

    cache = tmp_path / "cache"
    shutil.copytree(cache_dir / "models", cache / "models")
    root = ensure_generated(resolve_tasks("mini"), cache)
    bad = root / "image-tasks" / "Mini-ImageCLS" / "images" / "0003.png"
    bad.write_bytes(b"\x89PNG broken")
    out = tmp_path / "out"
    r = umeval("run", "task=mini", f"output_dir={out}", "progress=false", cache=cache)
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "task Mini-ImageCLS" in line and "0003.png" in line and "row 3" in line and "corrupt" in line
    assert not list(out.rglob("*.tmp"))
    r = umeval("run", "task=mini", f"output_dir={out}", "progress=false", "keep_going=true", cache=cache)
    assert r.returncode == 1, r.stderr  # failures are recorded and the other tasks scored, but it is not a success
    assert r.stderr.strip().splitlines()[-1].startswith("error: 1 task(s) failed: Mini-ImageCLS/disc")
    df = pd.read_parquet(out / "tiny-qwen2vl" / "leaderboard.parquet")
    failed = df[(df.level == "task") & (df.task == "Mini-ImageCLS")].iloc[0]
    assert failed.status == "failed" and "0003.png" in failed.error
    assert df[(df.level == "overall")].iloc[0].status == "incomplete"
    assert df[(df.level == "task") & (df.task == "Mini-T2V")].status.eq("ok").all()


def test_oracle_run_writes_exact_scores(tmp_path, cache_dir):
    """`umeval run model=oracle` (no weights, any backend): every main score and roll-up is exactly 1.0, the
    multi-positive visdoc recall@1 its hand-computed value, no ties.  Catches a CLI path that scores the wrong
    rows or writes the wrong values (the tiny-model demo above can only check ranges)."""
    r = umeval("run", "task=mini", "model=oracle", "backend=vllm", f"output_dir={tmp_path}", "progress=false",
               cache=cache_dir)
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(tmp_path / "oracle" / "leaderboard.parquet")
    assert (df[df.is_main].value == 1.0).all() and len(df[df.is_main]) == 3 + 3 + 3 + 1  # tasks, metas, ...
    assert (df.n_tied == 0).all()
    visdoc = df[(df.task == "Mini-VisDoc") & (df.metric == "recall@1")].value.item()
    assert visdoc == (1 / 2 + 1 / 2 + 1 + 1 / 3 + 1 / 2) / 5  # pages per query: 2, 2, 1, 3, 2
    assert "(no weights)" in str(TaskResult.read(tmp_path / "oracle" / "tasks" / "Mini-T2V" / "disc" / "scores.json")
                                 .model_id)


def test_selftest_passes_with_the_oracle_and_prints_one_line_per_task(tmp_path):
    r = umeval("selftest", "task=[mini,MSVD,ViDoRe_arxivqa,QVHighlight]", f"keep={tmp_path}", cache=tmp_path / "c")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [x for x in r.stdout.splitlines() if " got " in x]
    assert len(lines) == 6 and all(x.endswith("ok") for x in lines)
    assert "selftest passed" in r.stdout
    assert (tmp_path / "data" / "VLM2Vec" / "MSVD").is_dir()  # keep=DIR keeps the fixtures


def test_selftest_fails_with_a_real_model_and_names_the_tasks(tmp_path):
    """The check can fail: the tiny random model ranks near chance, and the anti-oracle ranks wrongly on purpose."""
    r = umeval("selftest", "task=mini", "model=tiny-qwen2vl", cache=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "selftest FAILED" in r.stdout and "Mini-" in r.stdout.splitlines()[-1]
    r = umeval("selftest", "task=mini", "model=anti-oracle", cache=tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == "selftest FAILED on 3 of 3 tasks: Mini-ImageCLS, Mini-T2V, Mini-VisDoc"
