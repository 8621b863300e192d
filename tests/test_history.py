"""Run history (``<model>/runs/``), per-task and per-stage timing (``scores.json`` ``timing``), ``show --runs``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import umeval
from umeval.core import timing
from umeval.core.errors import UmevalError
from umeval.run.history import read_runs


def settings(tmp: Path, root: Path) -> dict[str, object]:
    return {"data_root": root, "output_dir": tmp / "out", "cache_dir": tmp / "cache", "hub": False, "progress": False}


# ---------------------------------------------------------------- the clocks


def test_nested_stages_count_once_and_a_task_seen_twice_adds_up():
    """Catches a stage inside another counted twice (a result file written while encoding would double the
    write time), and a second pass over a task replacing its time instead of adding to it."""
    timer = timing.Timer()
    with timing.activate(timer):
        timing.begin_task("T", "disc")
        with timing.stage("encode"):
            time.sleep(0.02)
            with timing.stage("write"):
                time.sleep(0.02)
        timing.begin_task("U", "disc")
        timing.begin_task("T", "disc")
        with timing.stage("encode"):
            time.sleep(0.02)
        timing.count_encoded(5)
    t = timer.tasks["T/disc"]
    assert set(t.stages) == {"encode"} and t.stages["encode"].calls == 2
    assert t.stages["encode"].wall_s >= 0.06 and t.encoded == 5
    assert t.as_dict()["wall_s"] >= t.stages["encode"].wall_s
    assert timing.active() is None  # the with block put the previous (none) back


def test_stage_functions_run_untimed_without_a_timer():
    """Catches a timed stage function that fails (or records into a stale timer) outside a command."""
    @timing.timed("search")
    def f(x: int) -> int:
        return x + 1

    assert f(1) == 2 and timing.task_block("T", "disc") is None
    with pytest.raises(ValueError, match="unknown stage"):
        timing.stage("nap")


# ---------------------------------------------------------------- records and the timing block


def test_every_command_appends_a_record_with_task_and_stage_times(tmp_path, imagenet_root):
    """Catches a record overwritten by the next command (run.json's fault), a record without the stages of a task
    that ran, a reused task reported as run, and a scores.json without its timing block."""
    s = settings(tmp_path, imagenet_root)
    umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], **s)
    umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], **s)
    runs = read_runs(tmp_path / "out" / "oracle")
    assert [r["command"] for r in runs] == ["api", "api"] and [r["status"] for r in runs] == ["ok", "ok"]
    first, second = runs
    assert first["encoder_calls"] == 22 and first["reused"] == [] and first["tasks"] == ["ImageNet-1K"]
    (task,) = [t for t in first["task_timing"] if t["task"] == "ImageNet-1K"]
    assert task["mode"] == "disc" and task["encoded"] == 22
    assert set(task["stages"]) == set(timing.STAGES)
    assert all(v["wall_s"] >= 0 and v["calls"] >= 1 and v["gpu_s"] is None for v in task["stages"].values())
    assert first["timing"]["wall_s"] >= task["wall_s"] > 0
    assert first["config"]["model"]["name"] == "oracle" and first["config"]["task"] == ["ImageNet-1K"]
    assert second["encoder_calls"] == 0 and second["reused"] == ["ImageNet-1K/disc"]
    assert not [t for t in second["task_timing"] if t["task"] == "ImageNet-1K"]
    scores = json.loads((tmp_path / "out" / "oracle" / "tasks" / "ImageNet-1K" / "disc" / "scores.json").read_text())
    assert scores["timing"]["encoded"] == 22
    assert {"load", "encode", "search", "metrics"} <= set(scores["timing"]["stages"])


def test_a_failed_command_is_recorded_and_bad_input_leaves_no_folder(tmp_path, imagenet_root):
    """Catches a failure that leaves no trace in the history, and a record (with its folder) made for a command
    that bad input stopped before it wrote anything."""
    with pytest.raises(UmevalError, match="unknown task"):
        umeval.evaluate(model="oracle", tasks=["ImageNet-1k-typo"], **settings(tmp_path, imagenet_root))
    assert not (tmp_path / "out").exists()
    s = settings(tmp_path, imagenet_root)
    umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], **s)
    with pytest.raises(UmevalError):  # no fixture for N24News under this data root
        umeval.evaluate(model="oracle", tasks=["N24News"], **s)
    last = read_runs(tmp_path / "out" / "oracle")[-1]
    assert last["status"] == "failed" and "N24News" in last["error"] and last["tasks"] == ["N24News"]


def test_show_runs_lists_commands_and_their_task_times(tmp_path, imagenet_root, capsys):
    """Catches ``show --runs`` missing a command or the per-task rows."""
    from umeval.cli import main

    s = settings(tmp_path, imagenet_root)
    umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], **s)
    umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], **s)
    capsys.readouterr()
    assert main(["show", str(tmp_path / "out"), "--runs"]) == 0
    out = capsys.readouterr().out
    assert out.count(" api ") == 2 and out.count("ImageNet-1K/disc") == 1  # the second run reused it
    assert "1/0/0" in out and "0/1/0" in out and "encode s" in out
    assert main(["show", str(tmp_path / "out"), "--runs", "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [len(v) for v in recs.values()] == [2]
    assert main(["show", str(tmp_path / "out"), "--runs", "--last", "1"]) == 0
    assert capsys.readouterr().out.count(" api ") == 1
