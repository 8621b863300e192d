"""Issue 23: the freshness check of a finished task costs stats, not a load; any change it must see still loads.

Each test runs the mini suite for real with the weight-free fake encoder, then reruns it while counting the
loader's calls (``umeval.loaders.load_task``, the function every load goes through).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fakes import FakeEncoder

import umeval.loaders
from umeval.core.config import compose_config
from umeval.run.runner import run

MODEL = "tiny-qwen2vl"


def make_cfg(tmp: Path, *extra: str):
    return compose_config(["task=mini", f"model={MODEL}", f"output_dir={tmp / 'out'}", f"cache_dir={tmp / 'cache'}",
                           "progress=false", "backend=hf", "hub=false", *extra])


@pytest.fixture
def loads(monkeypatch):
    """The names of the tasks loaded from here on."""
    seen: list[str] = []
    real = umeval.loaders.load_task

    def counting(spec, ctx):
        seen.append(spec.name)
        return real(spec, ctx)

    monkeypatch.setattr(umeval.loaders, "load_task", counting)
    return seen


def generated_root(tmp: Path) -> Path:
    return next((tmp / "cache" / "data").glob("generated-*"))


def test_rerun_of_a_finished_suite_loads_nothing(tmp_path, loads):
    """Catches a freshness check that runs the loader (decoding and spilling every page) on every rerun."""
    first = run(make_cfg(tmp_path), encoder_factory=FakeEncoder)
    assert sorted(loads) == ["Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc"]
    loads.clear()
    again = run(make_cfg(tmp_path), encoder_factory=FakeEncoder)
    assert loads == [] and again.encoder_calls == 0
    assert [s["data_fingerprint"] for s in again.scores] == [s["data_fingerprint"] for s in first.scores]


def test_a_rewritten_annotation_file_loads_and_rescores(tmp_path, loads):
    """Catches a record trusted after its annotation parquet changed (a regrade, a fixed row)."""
    run(make_cfg(tmp_path), encoder_factory=FakeEncoder)
    record = json.loads((tmp_path / "cache" / "datafp" / "Mini-VisDoc.json").read_text())
    parquet = [f for f, _ in record["files"] if f.endswith(".parquet") and "qrels" in f]
    assert parquet, record["files"][:5]
    table = pq.read_table(parquet[0])
    rows = table.to_pylist()
    rows[0]["score"] = 2 if rows[0]["score"] != 2 else 1  # regrade one judgement
    pq.write_table(type(table).from_pylist(rows, schema=table.schema), parquet[0])
    loads.clear()
    again = run(make_cfg(tmp_path), encoder_factory=FakeEncoder)
    assert loads == ["Mini-VisDoc"]
    row = next(s for s in again.scores if s["task"] == "Mini-VisDoc")
    assert row["data_fingerprint"] != next(f for f in [record["fingerprint"]])


def test_a_touched_media_file_or_frame_folder_loads_again(tmp_path, loads):
    """Catches a record that checks the annotation files but not the media or the frame folders listed."""
    run(make_cfg(tmp_path), encoder_factory=FakeEncoder)
    record = json.loads((tmp_path / "cache" / "datafp" / "Mini-T2V.json").read_text())
    folders = [f for f, _ in record["files"] if os.path.isdir(f)]
    frames = [f for f, _ in record["files"] if f.endswith((".jpg", ".png"))]
    assert folders and frames
    loads.clear()
    Path(folders[-1], "extra_frame_999.jpg").write_bytes(Path(frames[0]).read_bytes())  # a frame added
    run(make_cfg(tmp_path), encoder_factory=FakeEncoder)
    assert loads == ["Mini-T2V"]
    loads.clear()
    os.utime(frames[0], ns=(1, 1))  # a frame replaced (its mtime differs)
    run(make_cfg(tmp_path), encoder_factory=FakeEncoder)
    assert loads == ["Mini-T2V"]


def test_a_changed_load_setting_does_not_reuse_the_record(tmp_path, loads):
    """Catches a record keyed by the task alone: ``limit`` or the frame count change what a load gives."""
    run(make_cfg(tmp_path, "task=Mini-T2V"), encoder_factory=FakeEncoder)
    from umeval.core.registry import resolve_tasks
    from umeval.run.context import RunContext

    cfg = make_cfg(tmp_path, "task=Mini-T2V", "model.num_frames=4")
    specs = resolve_tasks(cfg.task)
    ctx = RunContext.resolve(cfg, specs)
    loads.clear()
    ctx.data_fingerprint(specs[0])
    assert loads == ["Mini-T2V"] and ctx.data_fps.loads == 1
