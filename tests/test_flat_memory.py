"""Memory that stays flat over a suite: the store keeps no vectors or metadata, traces stored at text size."""

from __future__ import annotations

import os

import numpy as np

from umeval.core.types import Item
from umeval.run.store import EmbeddingStore


def test_store_holds_no_arrays_after_get_or_put(tmp_path):
    # Bug caught: every vector loaded or written kept in RAM for the life of the process.
    store = EmbeddingStore(tmp_path)
    rng = np.random.default_rng(0)
    for s in range(5):
        store.put([f"{s}-{i}" for i in range(10)], rng.standard_normal((10, 8)).astype(np.float32))
    keys = [f"{s}-{i}" for s in (4, 0, 2) for i in (9, 0, 3)]
    got = store.get(keys)
    assert got.shape == (9, 8) and got.dtype == np.float32
    assert all(not isinstance(v, np.ndarray) for v in vars(store).values())
    # the only dicts are the two key indexes (single vectors, token matrices), whose values are locations
    assert not [k for k, v in vars(store).items() if isinstance(v, dict) and k not in ("_index", "_multi")]
    assert not [v for k in ("_index", "_multi") for v in getattr(store, k).values() if isinstance(v, np.ndarray)]
    np.testing.assert_array_equal(got, EmbeddingStore(tmp_path).get(keys))  # same rows, order kept


def test_traces_stored_at_about_text_size(tmp_path):
    # Bug caught: fixed-width UTF-32 padded to the longest entry (64 entries with one 90k-char trace: 23 MB).
    store = EmbeddingStore(tmp_path)
    meta = ["é short"] * 63 + ["x" * 90_000]
    store.put([f"k{i}" for i in range(64)], np.ones((64, 4), np.float32), meta=meta)
    (shard,) = tmp_path.glob("shard-*.npz")
    assert shard.stat().st_size < 95_000 + 64 * 4 * 4 + 64 * 60 + 4096
    assert EmbeddingStore(tmp_path).get_meta(["k63", "k0", "k5"]) == ["x" * 90_000, "é short", "é short"]


def test_old_unicode_meta_shards_still_read(tmp_path):
    # Bug caught: stores written before the UTF-8 layout becoming unreadable.
    np.savez(tmp_path / "shard-old.npz", keys=np.array(["a", "b"]), vectors=np.ones((2, 3), np.float32),
             meta=np.array(['{"t": 1}', "ü"], dtype=str))
    store = EmbeddingStore(tmp_path)
    assert store.get_meta(["b", "a"]) == ["ü", '{"t": 1}']


def test_shard_cost_counts_visual_tokens(tmp_path):
    # Bug caught: sharding by item count, so a shard of pages (~3,000 tokens each) took 100x the time of one
    # of captions.
    from PIL import Image

    from umeval.models.cost import QWEN2VL_COST, ModelCost
    from umeval.run.shard import assign
    from umeval.run.shard import item_cost as cost_of

    def item_cost(item, samples=1):  # type: ignore[no-untyped-def]
        return cost_of(item, ModelCost(QWEN2VL_COST, 784, 2359296, 8), samples)

    page = tmp_path / "page.png"
    Image.new("RGB", (1700, 2200)).save(page)  # a letter page at 200 dpi: capped at max_pixels
    small = tmp_path / "thumb.png"
    Image.new("RGB", (56, 56)).save(small)
    assert item_cost(Item(id="p", image=str(page))) == 32 + 48 * 62  # resized to 1344 x 1736 (smart_resize)
    assert item_cost(Item(id="t", image=str(small))) == 32 + 4
    assert item_cost(Item(id="c", text="a caption")) == 32 + 3
    frames = tuple(str(small) for _ in range(8))
    assert item_cost(Item(id="v", video=frames), samples=2) == 2 * (32 + 4 * 4)
    keys = ["p1", "p2"] + [f"c{i}" for i in range(40)]
    costs = [3041.0, 3041.0] + [35.0] * 40
    owner = assign(keys, costs, 2)
    assert owner["p1"] != owner["p2"]  # the two pages go to different shards, the captions fill around them


def test_gen_run_rereads_traces_from_the_new_layout(tmp_path, cache_dir):
    # Bug caught: traces written as UTF-8 + offsets not read back by the generative path of the runner.
    import pandas as pd

    from umeval.core.config import compose_config
    from umeval.run.runner import run
    from umeval.testing.hash_encoder import HashEncoder

    cfg = compose_config(["task=mini", "model=tiny-qwen2vl", "mode=gen", "gen.samples=2", f"output_dir={tmp_path}",
                          f"cache_dir={tmp_path / 'c'}", "progress=false", "hub=false"])
    enc = HashEncoder()
    first = run(cfg, encoder_factory=lambda *a, **k: enc)
    assert all(s["status"] == "ok" for s in first.scores) and enc.calls > 0
    calls = enc.calls
    again = run(compose_config([*cfg_overrides(cfg), "overwrite=true"]), encoder_factory=lambda *a, **k: enc)
    assert enc.calls == calls  # all from the store
    assert [s["metrics"] for s in again.scores] == [s["metrics"] for s in first.scores]
    t = pd.read_parquet(next(tmp_path.glob("tiny-qwen2vl/tasks/*/gen/traces.parquet")))
    assert set(t["text"]) == {"<gen_emb>"} and set(t["sample"]) == {0, 1}


def cfg_overrides(cfg):
    return ["task=mini", "model=tiny-qwen2vl", "mode=gen", "gen.samples=2", f"output_dir={cfg.output_dir}",
            f"cache_dir={cfg.cache_dir}", "progress=false", "hub=false"]


def test_visdoc_pages_are_spilled_to_files_once(tmp_path):
    # Bugs caught: every page's bytes held in its item for the whole task (GBs for a 9,590-page corpus); a
    # second load rewriting the files (their mtime is part of the store key, so pages would be re-encoded).
    from umeval.core.registry import discover_tasks
    from umeval.loaders import LoadContext, load_task
    from umeval.testing.fixtures import write_fixture

    spec = discover_tasks().get("ViDoRe_arxivqa")
    root = write_fixture(spec, tmp_path / "data", seed=1)
    kept = load_task(spec, LoadContext(data_root=root))
    spilled = load_task(spec, LoadContext(data_root=root, spill_dir=tmp_path / "pages"))
    assert all(isinstance(c.image, bytes) for c in kept.candidates)
    assert all(isinstance(c.image, str) for c in spilled.candidates)
    for a, b in zip(kept.candidates, spilled.candidates):
        with open(b.image, "rb") as f:
            assert f.read() == a.image
    mtimes = [os.stat(c.image).st_mtime_ns for c in spilled.candidates]
    again = load_task(spec, LoadContext(data_root=root, spill_dir=tmp_path / "pages"))
    assert [c.image for c in again.candidates] == [c.image for c in spilled.candidates]
    assert [os.stat(c.image).st_mtime_ns for c in again.candidates] == mtimes
