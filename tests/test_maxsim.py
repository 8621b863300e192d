"""Late interaction: the MaxSim scorer against a hand-computed case and a naive reference; the store's token shards.

The random cases use small integer token values, so every product and sum is exact in float32 and equal scores
(ties) are common: the scorer must then match the reference's order (score desc, then candidate index / pool
position) exactly, whatever its block sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

from umeval.core.multivector import TokenMatrices
from umeval.run.store import EmbeddingStore
from umeval.scoring.maxsim import maxsim_global, maxsim_local


def _int_tokens(rng: np.random.Generator, n: int, dim: int, max_len: int) -> TokenMatrices:
    return TokenMatrices.from_list([rng.integers(-2, 3, size=(rng.integers(1, max_len + 1), dim)).astype(np.float32)
                                    for _ in range(n)])


def _naive(q: TokenMatrices, c: TokenMatrices, pools: list[np.ndarray] | None, k: int):
    """Per query, per candidate: sum over query tokens of the max over candidate tokens; stable sort."""
    idx = np.full((len(q), k), -1, np.int64)
    sc = np.full((len(q), k), -np.inf, np.float32)
    tied = np.zeros(len(q), bool)
    for i in range(len(q)):
        cand = np.arange(len(c)) if pools is None else np.asarray(pools[i], np.int64)
        s = np.array([(q.item(i) @ c.item(j).T).max(axis=1).sum() for j in cand], np.float32)
        order = np.argsort(-s, kind="stable")[: k + 1]
        top, ranked = s[order], cand[order]
        tied[i] = bool(((top[1:] == top[:-1]) & (ranked[1:] != ranked[:-1])).any())
        w = min(k, len(order))
        idx[i, :w], sc[i, :w] = ranked[:w], top[:w]
    return idx, sc, tied


def test_hand_computed_maxsim_takes_real_tokens_only():
    # Bug caught: zero-padded candidate tokens taking part in the maximum (the padded-einsum approach), which
    # floors a query token's maximum at 0.  Candidate 0's tokens all score negative against query token 2.
    q = TokenMatrices.from_list([np.array([[1, 0], [0, 1]], np.float32)])
    c = TokenMatrices.from_list([np.array([[0.6, -0.8]], np.float32),           # 0.6 + (-0.8) = -0.2
                                 np.array([[0.8, 0.6], [-1, 0], [0, -1]], np.float32)])  # 0.8 + 0.6 = 1.4
    idx, sc, tied = maxsim_global(q, c, 2)
    assert idx.tolist() == [[1, 0]]
    assert sc[0].tolist() == pytest.approx([1.4, -0.2])
    assert not tied[0]


@pytest.mark.parametrize("budget", [64, 4096, 1 << 28])
def test_global_matches_the_naive_loop_at_every_block_size(budget):
    # Bugs caught: a block merge losing the earlier candidate of a tie (ties across candidate blocks), block
    # offsets off by one (a candidate scored with its neighbour's tokens), query blocks written to wrong rows.
    # budget=64 bytes makes every block a single item.
    rng = np.random.default_rng(0)
    q, c = _int_tokens(rng, 23, 4, 5), _int_tokens(rng, 57, 4, 6)
    for k in (1, 5, 56, 57, 80):
        got = maxsim_global(q, c, k, budget_bytes=budget)
        ref = _naive(q, c, None, k)
        for g, r in zip(got, ref):
            np.testing.assert_array_equal(g, r)
    assert _naive(q, c, None, 5)[2].any()  # the data do hold ties, so the policy was exercised


@pytest.mark.parametrize("budget", [64, 1 << 28])
@pytest.mark.parametrize("shared", [True, False])
def test_local_matches_the_naive_loop(budget, shared):
    # Bugs caught: the union path reading the wrong union column; the per-query path mixing pools; pool order
    # not being the tie order; a candidate listed twice in a pool counted as a tie; an empty pool.
    rng = np.random.default_rng(1)
    q, c = _int_tokens(rng, 19, 3, 4), _int_tokens(rng, 40, 3, 5)
    labels = rng.choice(40, size=12, replace=False)
    pools = [rng.permutation(labels) if shared else rng.choice(40, size=int(rng.integers(1, 15)), replace=True)
             for _ in range(19)]
    pools[3] = np.array([], np.int64)
    for k in (1, 3, 20):
        got = maxsim_local(q, c, pools, k, budget_bytes=budget)
        ref = _naive(q, c, pools, k)
        for g, r in zip(got, ref):
            np.testing.assert_array_equal(g, r)


def test_local_pool_outside_the_candidates_is_refused():
    q = TokenMatrices.from_list([np.ones((1, 2), np.float32)])
    c = TokenMatrices.from_list([np.ones((1, 2), np.float32)])
    with pytest.raises(ValueError, match="pool of query 0 points outside the 1 candidates"):
        maxsim_local(q, c, [np.array([1])], 1)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_store_keeps_token_matrices_memory_mapped(tmp_path, dtype):
    # Bugs caught: offsets shifted between items; a reopened store losing multi-vector keys; matrices read
    # into RAM instead of memory-mapped; float16 not stored as float16; a tokens file whose index was never
    # written (a killed writer) read as data.
    rng = np.random.default_rng(2)
    mats = [rng.standard_normal((int(rng.integers(1, 6)), 8)).astype(np.float32) for _ in range(7)]
    store = EmbeddingStore(tmp_path, dtype=dtype)
    store.put_multi([f"k{i}" for i in range(4)], TokenMatrices.from_list(mats[:4]))
    store.put_multi([f"k{i}" for i in range(4, 7)], TokenMatrices.from_list(mats[4:]))
    (tmp_path / "mv-dead.tokens.npy").write_bytes(b"partial")
    again = EmbeddingStore(tmp_path, dtype=dtype)
    assert len(again) == 7 and again.is_multi("k5") and "k5" in again
    got = again.get_multi(["k6", "k0", "k3"])
    assert all(isinstance(s, np.memmap) and s.dtype == np.dtype(dtype) for s in got.sources)
    for j, i in enumerate([6, 0, 3]):
        want = mats[i].astype(dtype).astype(np.float32)
        np.testing.assert_array_equal(got.item(j), want)


def test_oracle_multivector_selftest_on_every_pool_kind(tmp_path):
    # Bugs caught: the runner not dispatching token matrices to MaxSim, the memo storing them as vectors, a
    # local pool or a global corpus scored wrongly, and the oracle's tokens not reproducing its answers.  Tasks:
    # a local image pool, a global video corpus, a visual-document corpus with graded pages, a global label set.
    from umeval.commands.selftest import run_selftest

    tasks = "[MSCOCO_t2i,MSR-VTT,ViDoRe_arxivqa,K700]"
    code, records = run_selftest([f"task={tasks}", "model=oracle-multivector"], keep=str(tmp_path))
    assert code == 0, [r for r in records if r["problems"]]
    assert len(records) == 4
    backends = {p.read_text().count('"maxsim:numpy"') for p in (tmp_path / "results").rglob("scores.json")}
    assert backends == {1}


def test_maxsim_bench_section_small_scale(tmp_path):
    # Bugs caught: the maxsim section not registered in `make bench`; umeval's top-k differing from the naive
    # loop's or the official padded einsum's on the same inputs (the section raises then); a missing ratio.
    import os
    import subprocess
    import sys

    import pandas as pd

    env = {**os.environ, "UMEVAL_BENCH_SCALE": "0.02"}
    r = subprocess.run([sys.executable, "-m", "umeval.bench", "maxsim"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_parquet(tmp_path / "results" / "bench" / "bench-maxsim.parquet").set_index("method")
    assert len(df) == 3 and df["same_topk"].astype(bool).all()
    assert df.loc["umeval", "ratio"] == 1.0 and (df["ratio"] > 0).all()
