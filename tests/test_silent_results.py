"""Issue 12: runs that exited 0 but left results wrong or lost.  One test (or more) per failure of the issue.

The runner is driven for real with a weight-free encoder (tests/fakes.py), so each run takes about a second.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import FakeEncoder
from rich.console import Console

from umeval.core.config import compose_config
from umeval.core.errors import ConfigError, DataError
from umeval.results.task_result import TaskResult
from umeval.run.runner import run

MODEL = "tiny-qwen2vl"


def make_cfg(tmp: Path, *extra: str, cache: Path | None = None, out: Path | None = None):
    return compose_config(["task=mini", f"model={MODEL}", f"output_dir={out or tmp / 'out'}",
                           f"cache_dir={cache or tmp / 'cache'}", "progress=false", "backend=hf", *extra])


def go(cfg):
    return run(cfg, encoder_factory=FakeEncoder)


def board(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / MODEL / "leaderboard.parquet")


def main_rows(df: pd.DataFrame, level: str = "task") -> pd.DataFrame:
    return df[(df.level == level) & df.is_main]


# ---------------------------------------------------------------- 1. leaderboards accumulate

def test_leaderboard_keeps_earlier_modes_and_tasks(tmp_path):
    """Failure 1: a plain disc run dropped the gen/oracle rows of an earlier mode=both run, and a one-task run
    left "All (incomplete)" over that one task."""
    out = tmp_path / "out"
    go(make_cfg(tmp_path, "mode=both"))
    go(make_cfg(tmp_path))  # plain disc, all three tasks
    go(make_cfg(tmp_path, "task=Mini-T2V"))
    df = board(out)
    tasks = main_rows(df)
    assert sorted(zip(tasks.task, tasks["mode"])) == sorted(
        (t, m) for t in ("Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc") for m in ("disc", "gen", "oracle"))
    assert (tasks.status == "ok").all()
    for mode in ("disc", "gen", "oracle"):
        overall = main_rows(df, "overall").set_index("mode").loc[mode]
        assert overall.status == "ok" and overall.n_tasks == 3
        assert overall.value == pytest.approx(tasks[tasks["mode"] == mode].value.mean())
    top = pd.read_parquet(out / "leaderboard.parquet")
    assert len(top) == len(df)


def test_result_from_older_config_is_stale_not_averaged(tmp_path):
    """Failure 1 (second half): a result from an older config must be shown stale, never mixed into a roll-up."""
    out = tmp_path / "out"
    go(make_cfg(tmp_path))
    go(make_cfg(tmp_path, "task=Mini-T2V", "model.num_frames=4"))  # (limit= goes beside)
    df = board(out)
    tasks = main_rows(df).set_index("task")
    assert tasks.loc["Mini-T2V", "status"] == "ok"
    assert tasks.loc["Mini-ImageCLS", "status"] == "stale" and tasks.loc["Mini-VisDoc", "status"] == "stale"
    assert "another config" in tasks.loc["Mini-VisDoc", "error"]
    overall = main_rows(df, "overall").iloc[0]
    assert overall.n_tasks == 1 and overall.status == "incomplete"
    assert overall.value == pytest.approx(tasks.loc["Mini-T2V", "value"])


# ---------------------------------------------------------------- 2. data fingerprints

def test_changed_media_reruns_a_finished_task(tmp_path):
    """Failure 2: an image replaced after a finished run gave "0 items encoded" and the old score."""
    cfg = make_cfg(tmp_path, "task=Mini-ImageCLS")
    first = go(cfg)
    assert first.encoder_calls > 0 and go(cfg).encoder_calls == 0  # unchanged data: nothing re-runs
    scores = tmp_path / "out" / MODEL / "tasks" / "Mini-ImageCLS" / "disc" / "scores.json"
    old = TaskResult.read(scores)
    images = sorted((tmp_path / "cache").glob("data/generated-*/image-tasks/Mini-ImageCLS/images/*.png"))
    victim = images[3]
    from PIL import Image  # another valid image (one pixel changed): same task, different data

    img = Image.open(images[4]).convert("RGB")
    img.putpixel((0, 0), tuple(255 - c for c in img.getpixel((0, 0))))
    img.save(victim)
    second = go(cfg)
    assert second.encoder_calls == 1  # exactly the changed image's query is encoded again
    new = TaskResult.read(scores)
    assert new.data_fingerprint != old.data_fingerprint
    victim.write_bytes(b"\x89PNG broken")  # the case: a corrupt file must fail, not keep the old score
    with pytest.raises(DataError, match=victim.name):
        go(cfg)


def test_store_key_changes_for_same_size_and_mtime(tmp_path):
    """Failure 2 (cache): a file replaced by one of the same size with its mtime restored kept its vector key."""
    from umeval.core.types import Item
    from umeval.run.store import entry_key

    p = tmp_path / "a.png"
    p.write_bytes(b"A" * 100)
    st = os.stat(p)
    item = Item(id="x", image=str(p))
    before = entry_key("enc", "disc", item)
    p.write_bytes(b"B" * 100)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # as `cp -p` or `rsync -t` would leave it
    assert os.stat(p).st_size == st.st_size and os.stat(p).st_mtime_ns == st.st_mtime_ns
    assert entry_key("enc", "disc", item) != before


# ---------------------------------------------------------------- 3. seeds from content

def test_two_data_roots_with_the_same_content_give_the_same_samples(tmp_path):
    """Failure 3: with only cache_dir (so the absolute media paths) changed, pass@1 was 0.125, 0.25, 0.208."""
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name / "out"
        go(make_cfg(tmp_path, "mode=gen", "gen.samples=4", "model.decoding.do_sample=true",
                    cache=tmp_path / name / "cache", out=out))
        outs.append(out)
    a, b = (board(o).set_index(["level", "name", "mode", "metric"])["value"].sort_index() for o in outs)
    pd.testing.assert_series_equal(a, b)
    assert {"pass@1", "pass@2", "pass@4"} <= set(a.index.get_level_values("metric"))
    for task in ("Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc"):
        ta, tb = (pd.read_parquet(o / MODEL / "tasks" / task / "gen" / "traces.parquet") for o in outs)
        cols = ["role", "sample", "seed", "text", "n_tokens"]
        pd.testing.assert_frame_equal(ta[cols], tb[cols])
        assert ta["seed"].nunique() > 1


def test_hf_encoder_seed_ignores_the_media_path(tiny_encoder, media, tmp_path):
    """Failure 3 in the real HF encoder: the per-item seed hashed the absolute image path."""
    from umeval.core.types import Item

    d, _ = media
    copy = tmp_path / "elsewhere" / "a.png"
    copy.parent.mkdir()
    shutil.copyfile(d / "a.png", copy)
    dec = {"do_sample": True, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "max_new_tokens": 4}
    outs = [tiny_encoder.generate_embed([Item(id="q", text="a cat", image=str(p))], samples=2, base_seed=3,
                                        decoding=dec) for p in (d / "a.png", copy)]
    (ta,), (tb,) = outs[0].traces, outs[1].traces
    assert [t.seed for t in ta] == [t.seed for t in tb]
    assert [t.token_ids for t in ta] == [t.token_ids for t in tb]
    np.testing.assert_allclose(outs[0].vectors, outs[1].vectors, atol=1e-6)


# ---------------------------------------------------------------- 4. provenance in the fingerprint and rows

def test_encoder_fingerprint_holds_resolved_device_dtype_and_versions(tmp_path, monkeypatch):
    """Failure 4: the fingerprint said `device: auto` and no library versions, so CPU-fp32 and GPU-bf16
    vectors, or vectors from two transformers versions, shared cache keys."""
    import importlib.metadata

    import torch

    from umeval.run.context import encoder_fingerprint

    cfg = compose_config([f"model={MODEL}", "model.dtype=auto", "backend=hf"])
    cpu = encoder_fingerprint(cfg)
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda n: "99.0" if n == "transformers" else real(n))
    assert encoder_fingerprint(cfg) != cpu  # a transformers upgrade is a new cache key
    monkeypatch.setattr(importlib.metadata, "version", real)
    assert encoder_fingerprint(cfg) == cpu
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the same settings on a GPU machine
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert encoder_fingerprint(cfg) != cpu
    from umeval.run.runtime import resolve_runtime

    assert [resolve_runtime(cfg)[k] for k in ("device", "dtype")] == ["cuda", "bfloat16"]


def test_rows_carry_the_resolved_runtime(tmp_path):
    """Failure 4 (rows): result rows recorded no device, dtype, attention, backend or library versions."""
    go(make_cfg(tmp_path, "task=Mini-VisDoc"))
    row = main_rows(board(tmp_path / "out")).iloc[0]
    assert [row[c] for c in ("backend", "device", "dtype", "attn_implementation")] == ["hf", "cpu", "float32", "sdpa"]
    assert row.torch_version and row.transformers_version and row.faiss_version
    assert row.model_revision_resolved == "main" and len(row.data_fingerprint) == 16


# ---------------------------------------------------------------- 6. gen headline and pass@k roll-ups

def test_gen_headline_is_the_mean_over_samples_and_pass_at_k_rolls_up(tmp_path):
    """Failure 6: the gen score was sample 0's (50.0 where pass@1 was 25.0); the oracle used sample 0; pass@k
    was not rolled up nor printed."""
    out = tmp_path / "out"
    go(make_cfg(tmp_path, "mode=both", "gen.samples=4", "model.decoding.do_sample=true"))
    df = board(out)
    tasks = df[df.level == "task"]
    sample0_differs = False
    for task in ("Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc"):
        gen = tasks[(tasks.task == task) & (tasks["mode"] == "gen")].set_index("metric")
        main = gen[gen.is_main].iloc[0]
        pq = pd.read_parquet(out / MODEL / "tasks" / task / "gen" / "per_query.parquet")
        per_sample = np.array(pq["main_per_sample"].tolist())
        assert main.value == pytest.approx(per_sample.mean()) == pytest.approx(gen.loc["pass@1", "value"])
        sample0_differs |= not np.isclose(per_sample[:, 0].mean(), per_sample.mean())
        disc = pd.read_parquet(out / MODEL / "tasks" / task / "disc" / "per_query.parquet")
        oracle = pd.read_parquet(out / MODEL / "tasks" / task / "oracle" / "per_query.parquet")
        expected = np.maximum(disc[main.name].to_numpy(), per_sample.mean(axis=1))
        np.testing.assert_allclose(oracle[main.name].to_numpy(), expected)
    assert sample0_differs  # the data tell the two definitions apart
    roll = df[(df.level != "task") & (df["mode"] == "gen")].set_index(["level", "name", "metric"])["value"]
    for level, name in (("overall", "All"), ("modality", "image"), ("meta", "V-RET")):
        for k in ("pass@1", "pass@2", "pass@4"):
            assert (level, name, k) in roll.index
        assert roll[(level, name, "pass@1")] == pytest.approx(roll[(level, name, "main")])
    from umeval.cli import print_sampling

    buf = io.StringIO()
    print_sampling(df, Console(file=buf, width=200))
    text = buf.getvalue()
    assert "pass@4" in text and "All" in text and "V-RET" in text


# ---------------------------------------------------------------- 7. validation before weights

@pytest.mark.parametrize(("override", "message"), [
    ("scorer.search=annoy", "scorer.search=annoy is not one of auto, faiss, numpy"),
    ("instruction_set=ume_r1", "instruction_set=ume_r1 is not one of official, ume-r1; did you mean ume-r1?"),
    ("device=gpu", "device=gpu is not one of auto, cpu, cuda, cuda:0, mps"),
    ("model.prompt=ume_r1", "model.prompt=ume_r1 is not a prompt format of family ume-r1 (did you mean ume-r1?)"),
    ("mode=bth", "mode=bth is not one of disc, gen, both; did you mean both?"),
    ("store_dtype=fp16", "store_dtype=fp16 is not one of float32, float16"),
    # issue 23: the old name of the search backend names the new one (a silent ignore would search with auto)
    ("scorer.backend=numpy", "the setting scorer.backend was renamed scorer.search; pass scorer.search=numpy"),
])
def test_bad_settings_fail_when_the_config_is_built(override, message):
    """Failure 7: `scorer.search=annoy` encoded everything before dying; `instruction_set=ume_r1` silently
    ran the official instructions while recording "ume_r1"."""
    with pytest.raises(ConfigError) as e:
        compose_config([override])
    assert str(e.value).startswith(message)


def test_unavailable_device_is_one_line(tmp_path, capsys, monkeypatch):
    """Failure 7: `device=cuda` without CUDA printed a 48-line traceback."""
    import torch

    from umeval.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("UMEVAL_CACHE", str(tmp_path / "cache"))
    code = main(["run", "task=Mini-VisDoc", "device=cuda", "backend=hf", f"output_dir={tmp_path / 'out'}",
                 "progress=false"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: device=cuda, but no CUDA device is visible")
    assert not (tmp_path / "out").exists()


def test_keep_going_with_a_failed_task_exits_non_zero(tmp_path, capsys, monkeypatch):
    """Failure 7: `keep_going=true` exited 0 with every task failed."""
    import umeval.run.runner
    from umeval.cli import main

    real = umeval.run.runner.run
    monkeypatch.setattr(umeval.run.runner, "run", lambda cfg, **kw: real(cfg, **{**kw, "encoder_factory": FakeEncoder}))
    cfg = make_cfg(tmp_path, "task=Mini-ImageCLS")
    go(cfg)
    for png in (tmp_path / "cache").glob("data/generated-*/image-tasks/Mini-ImageCLS/images/0003.png"):
        png.write_bytes(b"\x89PNG broken")
    args = ["run", "task=mini", f"model={MODEL}", f"output_dir={tmp_path / 'out'}",
            f"cache_dir={tmp_path / 'cache'}", "progress=false", "backend=hf", "keep_going=true"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "1 task(s) failed: Mini-ImageCLS/disc" in err
    df = board(tmp_path / "out")
    failed = main_rows(df).set_index("task").loc["Mini-ImageCLS"]
    assert failed.status == "failed" and "0003.png" in failed.error


# ---------------------------------------------------------------- 8. readable files, one schema

def test_result_files_follow_the_umask(tmp_path):
    """Failure 8: result files were created 0600 whatever the umask."""
    old = os.umask(0o027)
    try:
        go(make_cfg(tmp_path, "task=Mini-VisDoc"))
    finally:
        os.umask(old)
    out = tmp_path / "out"
    for f in [out / "leaderboard.parquet", out / MODEL / "leaderboard.parquet", out / MODEL / "run.json",
              *(out / MODEL / "tasks").rglob("*.*")]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o640, f


def test_disc_and_gen_leaderboards_concatenate(tmp_path):
    """Failure 8: column types differed between disc-only and gen runs (`decoding`, `error` typed null), so
    `pyarrow.concat_tables` and duckdb's `read_parquet` over both failed."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    go(make_cfg(tmp_path, "task=Mini-VisDoc", out=tmp_path / "disc"))
    go(make_cfg(tmp_path, "task=Mini-VisDoc", "mode=gen", out=tmp_path / "gen"))
    files = [tmp_path / m / MODEL / "leaderboard.parquet" for m in ("disc", "gen")]
    tables = [pq.read_table(f) for f in files]
    both = pa.concat_tables(tables)
    assert both.num_rows == sum(t.num_rows for t in tables)
    con = duckdb.connect()
    glob = str(tmp_path / "*" / MODEL / "leaderboard.parquet")  # as `read_parquet('runs/*/leaderboard.parquet')`
    n, modes = con.execute(f"select count(*), count(distinct mode) from read_parquet('{glob}')").fetchone()
    assert (n, modes) == (both.num_rows, 2)
    from umeval.results.files import LEADERBOARD_SCHEMA, SCHEMA_VERSION

    assert all(t.schema.equals(LEADERBOARD_SCHEMA, check_metadata=False) for t in tables)
    assert set(both.column("schema_version").to_pylist()) == {SCHEMA_VERSION}


# ---------------------------------------------------------------- 9. media behind a symlink

def test_symlinked_media_folder_works_and_climbing_out_is_refused(tmp_path):
    """Failure 9: `<data_root>/image-tasks` as a symlink to another disk made every row "escape the data root"."""
    from umeval.core.spec import DataSource, TaskSpec
    from umeval.loaders import LoadContext, media_path

    root, disk = tmp_path / "root", tmp_path / "other-disk" / "image-tasks"
    (disk / "T").mkdir(parents=True)
    (disk / "T" / "0.png").write_bytes(b"x")
    root.mkdir()
    (root / "image-tasks").symlink_to(disk, target_is_directory=True)
    spec = TaskSpec(name="T", modality="image", meta="I-CLS", family="mmeb_image",
                    source=DataSource(hub_id="h", media_dir="image-tasks"), query_modality="image",
                    candidate_modality="text", pool="local")
    ctx = LoadContext(data_root=root)
    p = media_path(ctx, spec, "T/0.png", file="f", row=0)
    assert p == str(root / "image-tasks" / "T" / "0.png") and Path(p).read_bytes() == b"x"
    for bad in ("../../other-disk/image-tasks/T/0.png", "T/../../../x.png", str(disk / "T" / "0.png"), "/etc/passwd"):
        with pytest.raises(DataError, match="escapes the data root"):
            media_path(ctx, spec, bad, file="f", row=0)


def test_show_and_export_keep_stale_results_out(tmp_path):
    """A result the rebuilt leaderboard marks stale must not come back through `show`/`export` (which read every
    scores.json): catches a stale score averaged into their roll-ups or exported as current."""
    import math

    from umeval.commands.export import load_results, wide_table
    from umeval.commands.show import boards

    out = tmp_path / "out"
    go(make_cfg(tmp_path))
    go(make_cfg(tmp_path, "task=Mini-T2V", "model.num_frames=4"))  # (limit= goes beside)
    rs = load_results([out])
    status = {(s["task"], s["mode"]): s["status"] for s in rs.scores}
    assert status[("Mini-VisDoc", "disc")] == "stale" and status[("Mini-T2V", "disc")] == "ok"
    overall = main_rows(boards(rs)[MODEL], "overall").iloc[0]
    assert overall.n_tasks == 1 and overall.status == "incomplete"
    table = wide_table(rs).set_index(["level", "name"])
    assert math.isnan(table.loc[("task", "Mini-VisDoc"), "disc"])
    assert table.loc[("overall", "All"), "disc"] == pytest.approx(table.loc[("task", "Mini-T2V"), "disc"])
