"""Runs that survive: kill and resume, content-keyed re-encoding, shards + merge, the Ray launcher."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from umeval.core.config import compose_config
from umeval.core.registry import TASKS, discover_tasks
from umeval.core.spec import Instructions
from umeval.run.runner import run
from umeval.run.store import EmbeddingStore


def fresh_cache(tmp: Path, cache_dir: Path) -> Path:
    cache = tmp / "cache"
    shutil.copytree(cache_dir / "models", cache / "models")  # the tiny checkpoint, not its embeddings
    return cache


def values(out: Path) -> pd.Series:
    df = pd.read_parquet(out / "tiny-qwen2vl" / "leaderboard.parquet")
    return df.set_index(["level", "name", "mode", "metric"])["value"].sort_index()


def cfg_for(cache: Path, out: Path, *extra: str):
    return compose_config(["task=mini", "model=tiny-qwen2vl", f"output_dir={out}", f"cache_dir={cache}",
                           "progress=false", *extra])


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache_dir, tiny_model):
    tmp = tmp_path_factory.mktemp("ref")
    cache, out = fresh_cache(tmp, cache_dir), tmp / "out"
    summary = run(cfg_for(cache, out))
    return out, summary.encoder_calls


def test_kill_mid_encoding_then_resume(tmp_path, cache_dir, reference):
    ref_out, ref_calls = reference
    cache, out = fresh_cache(tmp_path, cache_dir), tmp_path / "out"
    env = {**os.environ, "UMEVAL_CACHE": str(cache)}
    args = [sys.executable, "-m", "umeval.cli", "run", "task=mini", f"output_dir={out}", "progress=false",
            "batch_size=1", "num_workers=0"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store_dir = cache / "embeddings" / "tiny-qwen2vl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list(store_dir.glob("shard-*.npz")):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    finished = len(EmbeddingStore(store_dir))
    assert 0 < finished < ref_calls
    assert not list(out.rglob("*.tmp")) and not list(store_dir.glob(".*.tmp"))
    summary = run(cfg_for(cache, out))
    assert summary.encoder_calls == ref_calls - finished
    pd.testing.assert_series_equal(values(out), values(ref_out))


def test_changed_instruction_reencodes_only_that_task(tmp_path, cache_dir, reference, monkeypatch):
    ref_out, _ = reference
    cache, out = fresh_cache(tmp_path, cache_dir), tmp_path / "out"
    run(cfg_for(cache, out))
    discover_tasks()
    spec = TASKS.get("Mini-T2V")
    changed = dataclasses.replace(spec, instructions={"official": Instructions(
        query="Find the video described here:", candidate=spec.instruction().candidate)})
    monkeypatch.setitem(TASKS._items, "Mini-T2V", changed)
    before = {t: (out / "tiny-qwen2vl" / "tasks" / t / "disc" / "scores.json").stat().st_mtime_ns
              for t in ("Mini-ImageCLS", "Mini-VisDoc")}
    summary = run(cfg_for(cache, out))
    assert summary.encoder_calls == 8  # the eight Mini-T2V queries; its videos and the other tasks are reused
    after = {t: (out / "tiny-qwen2vl" / "tasks" / t / "disc" / "scores.json").stat().st_mtime_ns for t in before}
    assert after == before


def test_shards_then_merge_equal_one_run(tmp_path, cache_dir, reference):
    ref_out, ref_calls = reference
    cache, out = fresh_cache(tmp_path, cache_dir), tmp_path / "out"
    calls = [run(cfg_for(cache, out, f"shard={i}/2")).encoder_calls for i in range(2)]
    assert sum(calls) == ref_calls and min(calls) > 0
    assert not (out / "tiny-qwen2vl" / "leaderboard.parquet").exists()
    merged = run(cfg_for(cache, out))
    assert merged.encoder_calls == 0
    pd.testing.assert_series_equal(values(out), values(ref_out))


@pytest.mark.slow
def test_ray_launcher_local_cluster(tmp_path, cache_dir, reference):
    ray = pytest.importorskip("ray")
    from umeval.run.launch import launch

    ref_out, ref_calls = reference
    cache, out = fresh_cache(tmp_path, cache_dir), tmp_path / "out"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}})
    try:
        reports, merged = launch(["task=mini", "model=tiny-qwen2vl", f"output_dir={out}", f"cache_dir={cache}",
                                  "progress=false"], shards=2)
    finally:
        ray.shutdown()
    assert sum(r["encoder_calls"] for r in reports) == ref_calls
    assert merged.encoder_calls == 0
    pd.testing.assert_series_equal(values(out), values(ref_out))
