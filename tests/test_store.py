"""The embedding store: exact float32 round trips, and float16 storage within its documented tolerance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.test_resume import cfg_for, fresh_cache
from umeval.results.files import task_dir
from umeval.run.runner import run
from umeval.run.store import EmbeddingStore

U = 2.0 ** -11  # float16 unit roundoff
BOUND = 2 * U + U * U  # |score16 - score32| for unit vectors (umeval/run/store.py)


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_float32_exact_float16_within_bound(tmp_path):
    rng = np.random.default_rng(0)
    q, c = unit(rng, 200, 1536), unit(rng, 3000, 1536)
    c[::7] *= 1e-3 * np.abs(c[::7])  # tiny components too (then renormalised): the bound still holds
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    keys = [f"k{i}" for i in range(len(c))]
    s32, s16 = EmbeddingStore(tmp_path / "a"), EmbeddingStore(tmp_path / "b", dtype="float16")
    s32.put(keys, c)
    s16.put(keys, c)
    back32 = EmbeddingStore(tmp_path / "a").get(keys)  # reopened: read from disk
    back16 = EmbeddingStore(tmp_path / "b", dtype="float16").get(keys)
    assert back32.dtype == back16.dtype == np.float32
    np.testing.assert_array_equal(back32, c)
    normal = np.abs(c) >= 2.0 ** -14  # float16's smallest normal number
    rel = np.abs(back16 - c)[normal] / np.abs(c)[normal]
    assert rel.max() <= U and rel.max() > U / 4  # really rounded, and by no more than u
    assert np.abs(back16 - c)[~normal].max() <= 2.0 ** -25  # subnormals: half the spacing, absolute
    q16 = q.astype(np.float16).astype(np.float32)
    diff = np.abs(q16 @ back16.T - q @ c.T)
    assert diff.max() <= BOUND
    size = {d: sum(p.stat().st_size for p in (tmp_path / d).glob("shard-*.npz")) for d in "ab"}
    assert 0.49 < size["b"] / size["a"] < 0.55


def test_bad_store_dtype(tmp_path):
    import pytest

    from umeval.core.config import compose_config
    from umeval.core.errors import ConfigError

    with pytest.raises(ValueError, match="not one of float32, float16"):
        EmbeddingStore(tmp_path, dtype="int8")
    with pytest.raises(ConfigError, match="store_dtype=bf16 is not one of float32, float16"):
        compose_config(["store_dtype=bf16"])


def test_float16_run_scores_within_bound(tmp_path, cache_dir, tiny_model):
    """A run with store_dtype=float16 keeps its own store, and every top-k score is within the bound."""
    cache = fresh_cache(tmp_path, cache_dir)
    run(cfg_for(cache, tmp_path / "o32"))
    half = run(cfg_for(cache, tmp_path / "o16", "store_dtype=float16"))
    assert half.encoder_calls > 0  # float32 vectors are not reused as float16 ones, nor the other way
    for shard in (cache / "embeddings" / "tiny-qwen2vl@float16").glob("shard-*.npz"):
        with np.load(shard) as z:
            assert z["vectors"].dtype == np.float16
    board = pd.read_parquet(tmp_path / "o16" / "tiny-qwen2vl" / "leaderboard.parquet")
    assert set(board["store_dtype"]) == {"float16"}
    compared = 0
    for t in ("Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc"):
        a, b = (pd.read_parquet(task_dir(tmp_path / o, "tiny-qwen2vl", t, "disc") / "per_query.parquet")
                for o in ("o32", "o16"))
        for x, y in zip(a["topk_scores"], b["topk_scores"], strict=True):
            # the j-th largest score moves by no more than the largest change of any one score
            assert np.abs(np.asarray(x) - np.asarray(y)).max() <= BOUND
            compared += len(x)
    assert compared > 50
    again = run(cfg_for(cache, tmp_path / "o16", "store_dtype=float16"))
    assert again.encoder_calls == 0
