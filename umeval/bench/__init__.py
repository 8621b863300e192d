"""``make bench``: umeval's figures next to baselines measured in the same run, with ratios and peak memory.

Cases (each scoring method runs in its own process, so its peak RSS is its own):

1. scoring, global: exact top-10 for 10k queries x 100k candidates x 1536 dims (fp32): the bare matrix
   product (the floor), umeval's scorer, the official per-query ``argsort(-scores)``, chunked ``torch.topk``;
   identical top-k required.  Local: 1,000 queries, each ranking 1,000 of its own candidates, drawn at random
   from the 100k (``random``) or one shared label set in a different order per query (``shared``, the shape
   of the classification tasks).  float16 storage: score change and top-k agreement against float32.
2. encode dedup: encoder calls / unique items on the image fixture family with shared candidates.
3. rerun: wall time and encoder calls of re-running a finished suite.
4. data pipeline: items/s of media decoding + processor alone, and the share of encoding time the model
   waited for data with prefetching threads.
5. generative: samples/s for k=4 sampled traces + embedding, vLLM vs HF backend, on the tiny model.
6. precision: one product in fp32, int8 and fp16, to see whether reduced precision could beat the fp32 floor.
7. maxsim (late interaction): exact top-10 MaxSim of NQ_MS queries (10-30 tokens) over NC_MS pages (700-1030
   tokens, PaliGemma's 1024 image tokens and a prompt), 128 dims: umeval's scorer, a naive per-query loop
   over candidates, and the padded batch einsum of colpali-engine's ``score_multi_vector`` (zero-padded
   ``bnd,csd->bcns``, max over s, sum over n, then a stable top-k); same inputs, identical top-k required.
   Token values are multiples of 1/16, so every score is exact in float32 and ties (frequent) are decided
   by the tie policy alone.
8. media_hash: the first-run cost of content-keyed media (sha256 + sidecar) per 10,000 files and per GiB.

``python -m umeval.bench scoring float16`` runs only those sections (written to ``bench-scoring-float16.parquet``).
``UMEVAL_BENCH_SCALE`` (default 1.0) scales the scoring sizes down for a quick look.  Results are printed and
written to ``results/bench/bench.parquet`` with the machine description.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

SCALE = float(os.environ.get("UMEVAL_BENCH_SCALE", "1.0"))
NQ, NC, DIM, K = int(10_000 * SCALE), int(100_000 * SCALE), 1536, 10
NL, PL = min(1000, NQ), min(1000, NC)  # local case: NL queries, each with PL candidates of its own


def _data(seed: int, n: int, dim: int) -> np.ndarray:
    """Unit vectors, generated in chunks so no full-size temporary inflates the peak memory measured."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, dim), np.float32)
    for t in range(0, n, 4096):
        part = rng.standard_normal((min(4096, n - t), dim), dtype=np.float32)
        x[t: t + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return x


def _pools(method: str) -> list[np.ndarray]:
    """Local pools: PL candidates per query drawn from all NC, or (shared) one label set in shuffled orders."""
    rng = np.random.default_rng(3)
    if "shared" in method:
        labels = rng.choice(NC, size=PL, replace=False)
        return [rng.permutation(labels) for _ in range(NL)]
    return [rng.choice(NC, size=PL, replace=False) for _ in range(NL)]


def _die_with_parent() -> None:
    """Linux: end this worker when the bench process ends, so a stopped bench leaves nothing loading the CPU."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _scoring_worker(method: str, out: str, queue: Any) -> None:
    _die_with_parent()
    q, c = _data(1, NQ, DIM), _data(2, NC, DIM)
    t0 = time.perf_counter()
    tile = 1024
    if method == "matmul (floor)":
        for t in range(0, NQ, tile):
            q[t: t + tile] @ c.T
        top = None
    elif method == "umeval":
        from umeval.scoring.search import search_global

        top = search_global(q, c, K, backend="auto")[0]
    elif method == "numpy argsort (official)":
        top = np.empty((NQ, K), np.int64)
        for t in range(0, NQ, tile):
            s = q[t: t + tile] @ c.T
            for r in range(len(s)):
                top[t + r] = np.argsort(-s[r])[:K]
    elif method == "torch.topk (chunked)":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        tq, tc = torch.from_numpy(q), torch.from_numpy(c)
        top = np.empty((NQ, K), np.int64)
        for t in range(0, NQ, tile):
            top[t: t + tile] = torch.topk(tq[t: t + tile] @ tc.T, K, dim=1).indices.numpy()
    elif method.startswith("umeval local"):
        from umeval.scoring.search import search_local

        top = search_local(q[:NL], c, _pools(method), K)[0]
    elif method.startswith("numpy argsort local"):
        top = np.empty((NL, K), np.int64)
        for r, p in enumerate(_pools(method)):
            top[r] = p[np.argsort(-(c[p] @ q[r]))[:K]]
    else:
        raise ValueError(method)
    seconds = time.perf_counter() - t0
    if top is not None:
        np.save(out, top)
    queue.put({"seconds": seconds, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024})


def run_scoring(methods: list[str], tmp: Path, worker: Any = None) -> dict[str, dict[str, Any]]:
    ctx = mp.get_context("spawn")
    worker = worker or _scoring_worker
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        path = str(tmp / f"{abs(hash(m))}.npy")
        queue = ctx.Queue()
        p = ctx.Process(target=worker, args=(m, path, queue))
        p.start()
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"bench case {m!r} failed (exit code {p.exitcode})")
        res = queue.get(timeout=10)
        res["top"] = np.load(path) if os.path.exists(path) else None
        out[m] = res
    return out


def bench_scoring(tmp: Path) -> list[dict[str, Any]]:
    rows = []
    cand_bytes = NC * DIM * 4
    glob = run_scoring(["matmul (floor)", "umeval", "torch.topk (chunked)", "numpy argsort (official)"], tmp)
    floor, ours = glob["matmul (floor)"]["seconds"], glob["umeval"]
    for m, r in glob.items():
        same = None if r["top"] is None else bool(np.array_equal(r["top"], ours["top"]))
        rows.append({"case": f"scoring {NQ}x{NC}x{DIM}", "method": m, "value": r["seconds"], "unit": "s",
                     "ratio": r["seconds"] / ours["seconds"], "vs_floor": r["seconds"] / floor,
                     "peak_vs_candidates": r["peak_rss"] / cand_bytes, "same_topk": same})
    for kind in ("random", "shared"):
        names = [f"umeval local ({kind})", f"numpy argsort local ({kind}, official)"]
        loc = run_scoring(names, tmp)
        ours = loc[names[0]]
        for m, r in loc.items():
            rows.append({"case": f"scoring local {NL}x{PL}, {kind} pools", "method": m, "value": r["seconds"],
                         "unit": "s", "ratio": r["seconds"] / ours["seconds"], "vs_floor": None,
                         "peak_vs_candidates": r["peak_rss"] / cand_bytes,
                         "same_topk": bool(np.array_equal(r["top"], ours["top"]))})
    return rows


NQ_MS, NC_MS, DIM_MS = max(2, int(200 * SCALE)), max(11, int(500 * SCALE)), 128
# colpali-engine's default batch is 128 x 128 items; its (b, c, n, s) product would then take 2 GB here.
EINSUM_BATCH = 32


def _token_data(seed: int, n: int, lo: int, hi: int) -> Any:
    """``n`` token matrices of lo..hi unit-ish tokens on a 1/16 grid (exact float32 products and sums)."""
    from umeval.core.multivector import TokenMatrices

    rng = np.random.default_rng(seed)
    mats = []
    for _ in range(n):
        x = rng.standard_normal((int(rng.integers(lo, hi + 1)), DIM_MS)).astype(np.float32)
        mats.append(np.round(x / np.linalg.norm(x, axis=1, keepdims=True) * 16) / 16)
    return TokenMatrices.from_list(mats)


def _stable_topk(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")[:, :K]


def _maxsim_worker(method: str, out: str, queue: Any) -> None:
    _die_with_parent()
    q, c = _token_data(5, NQ_MS, 10, 30), _token_data(6, NC_MS, 700, 1030)
    t0 = time.perf_counter()
    if method == "umeval":
        from umeval.scoring.maxsim import maxsim_global

        top = maxsim_global(q, c, K)[0]
    elif method == "naive per-query loop":
        cands = [c.item(j) for j in range(len(c))]
        scores = np.empty((len(q), len(c)), np.float32)
        for i in range(len(q)):
            qi = q.item(i)
            for j, cj in enumerate(cands):
                scores[i, j] = (qi @ cj.T).max(axis=1).sum()
        top = _stable_topk(scores)
    elif method.startswith("padded einsum"):
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        qs = [torch.from_numpy(q.item(i)) for i in range(len(q))]
        ps = [torch.from_numpy(c.item(j)) for j in range(len(c))]
        rows = []
        for i in range(0, len(qs), EINSUM_BATCH):
            qb = torch.nn.utils.rnn.pad_sequence(qs[i: i + EINSUM_BATCH], batch_first=True, padding_value=0)
            row = []
            for j in range(0, len(ps), EINSUM_BATCH):
                pb = torch.nn.utils.rnn.pad_sequence(ps[j: j + EINSUM_BATCH], batch_first=True, padding_value=0)
                row.append(torch.einsum("bnd,csd->bcns", qb, pb).max(dim=3)[0].sum(dim=2))
            rows.append(torch.cat(row, dim=1))
        top = _stable_topk(torch.cat(rows, dim=0).numpy())
    else:
        raise ValueError(method)
    seconds = time.perf_counter() - t0
    np.save(out, top)
    queue.put({"seconds": seconds, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024})


def bench_maxsim(tmp: Path) -> list[dict[str, Any]]:
    """Late interaction: umeval's exact MaxSim against a naive loop and the official padded einsum."""
    methods = ["umeval", "naive per-query loop", "padded einsum (colpali-engine score_multi_vector, official)"]
    got = run_scoring(methods, tmp, worker=_maxsim_worker)
    ours = got["umeval"]
    cand_bytes = _token_data(6, NC_MS, 700, 1030).n_tokens * DIM_MS * 4
    rows = []
    for m, r in got.items():
        same = bool(np.array_equal(r["top"], ours["top"]))
        if not same:
            raise RuntimeError(f"maxsim bench: {m} ranks differently from umeval")
        rows.append({"case": f"maxsim {NQ_MS}x{NC_MS} items, {DIM_MS} dims", "method": m, "value": r["seconds"],
                     "unit": "s", "ratio": r["seconds"] / ours["seconds"], "vs_floor": None,
                     "peak_vs_candidates": r["peak_rss"] / cand_bytes, "same_topk": same})
    return rows


def bench_float16(tmp: Path) -> list[dict[str, Any]]:
    """store_dtype=float16: the bytes saved, how far scores moved, how many top-k lists changed."""
    from umeval.run.store import EmbeddingStore
    from umeval.scoring.search import search_global

    nq = max(1, NQ // 10)
    q, c = _data(1, nq, DIM), _data(2, NC, DIM)
    q16, c16 = (x.astype(np.float16).astype(np.float32) for x in (q, c))
    i32, s32, _ = search_global(q, c, K)
    i16, s16, _ = search_global(q16, c16, K)
    case = f"float16 store ({nq}x{NC}x{DIM}, top-{K})"
    size = {}
    for dtype in ("float32", "float16"):  # the store's shard files for the first 10k candidates
        part = c[:10_000]
        EmbeddingStore(tmp / f"store-{dtype}", dtype=dtype).put([f"c{i}" for i in range(len(part))], part)
        size[dtype] = sum(f.stat().st_size for f in (tmp / f"store-{dtype}").glob("shard-*.npz"))
    return [
        {"case": case, "method": "store bytes float16 / float32", "value": size["float16"] / size["float32"],
         "unit": "x", "ratio": None},
        {"case": case, "method": "max |score16 - score32| in the top-k (bound 9.8e-4)",
         "value": float(np.abs(s16 - s32).max()), "unit": "abs", "ratio": None},
        {"case": case, "method": "queries with an identical top-k list", "value": float((i16 == i32).all(1).mean()),
         "unit": "share", "ratio": None},
        {"case": case, "method": "queries with an identical top-1", "value": float((i16[:, 0] == i32[:, 0]).mean()),
         "unit": "share", "ratio": None},
    ]


def _mini_data(cache: Path) -> list[Any]:
    """The embedded mini suite's loaded tasks (data generated into ``cache`` on first use)."""
    from umeval.core.registry import resolve_tasks
    from umeval.data.embedded import ensure_generated
    from umeval.loaders import LoadContext, load_task

    specs = resolve_tasks("mini")
    root = ensure_generated(specs, cache)
    return [load_task(sp, LoadContext(data_root=root)) for sp in specs]


def bench_pipeline(tmp: Path) -> list[dict[str, Any]]:
    from umeval.core.config import compose_config
    from umeval.core.registry import discover_tasks
    from umeval.encoders.qwen2vl import Qwen2VLEncoder
    from umeval.loaders import LoadContext, load_task
    from umeval.run.runner import run
    from umeval.testing.fixtures import write_fixture

    rows = []
    cache, out = tmp / "cache", tmp / "out"
    base = ["task=mini", "model=tiny-qwen2vl", f"cache_dir={cache}", f"output_dir={out}", "progress=false"]
    # 2. dedup on a fixture of the image family with shared candidates (ImageNet-1K shape).
    spec = discover_tasks().get("ImageNet-1K")
    root = write_fixture(spec, tmp / "data", n=60)
    data = load_task(spec, LoadContext(data_root=root))
    naive = len(data.queries) + sum(len(p) for p in data.pools or [])
    unique = len({q.key for q in data.queries}) + len({c.key for c in data.candidates})
    s = run(compose_config(["task=ImageNet-1K", *base[1:], f"data_root={root}", "hub=false"]))
    rows.append({"case": "encode dedup (ImageNet-1K fixture)", "method": "umeval calls / unique items",
                 "value": s.encoder_calls / unique, "unit": "x", "ratio": None})
    rows.append({"case": "encode dedup (ImageNet-1K fixture)", "method": "naive calls / unique items",
                 "value": naive / unique, "unit": "x", "ratio": naive / s.encoder_calls})
    # 3. rerun of a finished suite.
    t0 = time.perf_counter()
    first = run(compose_config(base))
    t1 = time.perf_counter()
    again = run(compose_config(base))
    t2 = time.perf_counter()
    rows.append({"case": "rerun finished mini suite", "method": f"first run ({first.encoder_calls} items)",
                 "value": t1 - t0, "unit": "s", "ratio": None})
    rows.append({"case": "rerun finished mini suite", "method": f"rerun ({again.encoder_calls} encoder calls)",
                 "value": t2 - t1, "unit": "s", "ratio": (t2 - t1) / (t1 - t0)})
    # 4. data pipeline: preprocessing alone vs the model waiting for it with prefetch threads.
    items = [it for d in _mini_data(cache) for it in d.queries + d.candidates] * 4
    cfg = compose_config(base)
    for workers in (0, 2):
        enc = Qwen2VLEncoder(cfg.model, cache_dir=cache, batch_size=4, num_workers=workers)
        t0 = time.perf_counter()
        for i in range(0, len(items), 4):
            enc.prepare(items[i: i + 4])
        prep = time.perf_counter() - t0
        t0 = time.perf_counter()
        enc.embed(items)
        total = time.perf_counter() - t0
        if workers == 0:
            rows.append({"case": "data pipeline (mini items)", "method": "preprocess only (no model)",
                         "value": len(items) / prep, "unit": "items/s", "ratio": None})
        rows.append({"case": "data pipeline (mini items)", "method": f"encoder waits for data, num_workers={workers}",
                     "value": enc.wait_seconds / total, "unit": "share of wall time", "ratio": None})
    return rows


def bench_generative(tmp: Path) -> list[dict[str, Any]]:
    from umeval.core.config import compose_config

    cache = tmp / "cache"
    cfg = compose_config(["model=tiny-qwen2vl", "model.decoding.do_sample=true", "model.decoding.max_new_tokens=16"])
    items = [it for d in _mini_data(cache) for it in d.queries]
    rows, rates = [], {}
    for name, ref in (("hf", "umeval.encoders.qwen2vl:Qwen2VLEncoder"),
                      ("vllm", "umeval.encoders.vllm_backend:VllmEncoder")):
        from umeval.core.plugins import load_object

        try:
            enc = load_object(ref)(cfg.model, cache_dir=cache, batch_size=8)
            enc.generate_embed(items[:1], samples=4, decoding=cfg.model.decoding)  # warm-up (engine start)
        except Exception as e:  # noqa: BLE001 - a missing backend is reported, not fatal
            rows.append({"case": "generative k=4", "method": name, "value": float("nan"), "unit": "samples/s",
                         "ratio": None, "note": f"unavailable: {e}"})
            continue
        t0 = time.perf_counter()
        enc.generate_embed(items, samples=4, decoding=cfg.model.decoding)
        rates[name] = 4 * len(items) / (time.perf_counter() - t0)
        if hasattr(enc, "close"):
            enc.close()
    for name, r in rates.items():
        rows.append({"case": "generative k=4 (tiny model, 16 tokens)", "method": name, "value": r,
                     "unit": "samples/s", "ratio": r / rates["hf"] if "hf" in rates else None})
    return rows


def bench_vllm_submit(tmp: Path) -> list[dict[str, Any]]:
    """Generative throughput on vLLM: a whole task per ``generate`` call against the old 64-item chunks.

    Same engine (started once), same items (the mini queries, made distinct, 4 x 64 of them), k=2 sampled
    traces of up to 32 tokens plus the pooling pass; only the submission size differs.
    """
    from dataclasses import replace

    from umeval.core.config import compose_config
    from umeval.core.plugins import load_object

    n_items = int(os.environ.get("UMEVAL_BENCH_VLLM_ITEMS", "256"))
    cache = tmp / "cache"
    cfg = compose_config(["model=tiny-qwen2vl", "model.decoding.do_sample=true", "model.decoding.max_new_tokens=32"])
    base = [it for d in _mini_data(cache) for it in d.queries]
    items = [replace(base[i % len(base)], text=f"{base[i % len(base)].text} #{i}") for i in range(n_items)]
    case = f"vLLM submission ({n_items} items, k=2, 32 tokens, tiny model)"
    try:
        enc = load_object("umeval.encoders.vllm_backend:VllmEncoder")(cfg.model, cache_dir=cache, batch_size=8)
        enc.generate_embed(items[:2], samples=2, decoding=cfg.model.decoding)  # warm-up: both engines start
    except Exception as e:  # noqa: BLE001 - a missing backend is reported, not fatal
        return [{"case": case, "method": "vllm", "value": float("nan"), "unit": "items/s", "ratio": None,
                 "note": f"unavailable: {e}"}]
    rates = {}
    try:
        for name, chunk in (("64-item chunks (before)", 64), ("whole task per call", n_items)):
            enc.chunk = chunk
            t0 = time.perf_counter()
            enc.generate_embed(items, samples=2, decoding=cfg.model.decoding)
            rates[name] = n_items / (time.perf_counter() - t0)
    finally:
        enc.close()
    before = rates["64-item chunks (before)"]
    return [{"case": case, "method": k, "value": v, "unit": "items/s", "ratio": v / before} for k, v in rates.items()]


def bench_precision(tmp: Path) -> list[dict[str, Any]]:
    """Throughput of one product (2048 x 20000 x 1536) in fp32, int8 and fp16 on this CPU.

    Says whether a reduced-precision pre-screen could beat the fp32 product floor of exact scoring.
    """
    import warnings

    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    m, n, d = 2048, 20_000, DIM
    x, w = torch.from_numpy(_data(5, m, d)), torch.from_numpy(_data(6, n, d))
    runs: dict[str, Any] = {"fp32 (numpy/BLAS)": lambda: x.numpy() @ w.numpy().T}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's quantized ops warn that they are deprecated
        try:
            xq = torch.quantize_per_tensor(x, 1 / 127, 128, torch.quint8)
            wq = torch.ops.quantized.linear_prepack(torch.quantize_per_tensor(w, 1 / 127, 0, torch.qint8), None)
            runs["int8 (fbgemm quantized.linear)"] = lambda: torch.ops.quantized.linear(xq, wq, 1.0, 0)
            w16 = torch.ops.quantized.linear_prepack_fp16(w, None)
            runs["fp16 (fbgemm linear_dynamic_fp16)"] = lambda: torch.ops.quantized.linear_dynamic_fp16(x, w16)
        except (RuntimeError, AttributeError):
            pass
        rates = {}
        for name, f in runs.items():
            f()  # warm-up
            t0 = time.perf_counter()
            f()
            rates[name] = 2 * m * n * d / (time.perf_counter() - t0) / 1e9
    base = rates["fp32 (numpy/BLAS)"]
    return [{"case": f"product {m}x{n}x{d} by precision", "method": k, "value": v, "unit": "G ops/s",
             "ratio": v / base} for k, v in rates.items()]


def bench_media_hash(tmp: Path) -> list[dict[str, Any]]:
    """First-run cost of keying media by content (:mod:`umeval.run.mediahash`), per 10,000 files and per GB.

    10,000 files of 20 kB (a small image): a first run reads and hashes each and fills the SQLite sidecar; a later
    run (a new process, a new :class:`MediaHashes`) costs a ``stat`` and a sidecar lookup per file.  Baseline:
    one bare ``os.stat`` per file (what the path-keyed store cost).  Per GB: 1 GiB in 16 files of 64 MiB, hashed,
    against reading the same bytes without hashing (the floor).  Files are in the page cache (just written): a
    cold disk adds its read time to both.
    """
    from umeval.run.mediahash import MediaHashes

    rows: list[dict[str, Any]] = []
    small = tmp / "media-small"
    small.mkdir()
    rng = np.random.default_rng(0)
    blob = rng.bytes(20_000)
    paths = []
    for i in range(10_000):
        made = small / f"{i:05d}.jpg"
        made.write_bytes(blob[:-8] + i.to_bytes(8, "little"))
        paths.append(str(made))
    t0 = time.perf_counter()
    for p in paths:
        os.stat(p)
    t_stat = time.perf_counter() - t0
    side = tmp / "media-hashes.sqlite"
    first = MediaHashes(side)
    t0 = time.perf_counter()
    for p in paths:
        first.digest(p)
    first.flush()
    t_first = time.perf_counter() - t0
    again = MediaHashes(side)
    t0 = time.perf_counter()
    for p in paths:
        again.digest(p)
    t_again = time.perf_counter() - t0
    assert again.read == 0
    rows += [{"case": "media keys, 10,000 files of 20 kB", "method": m, "value": v, "unit": "s", "ratio": v / t_stat}
             for m, v in (("bare os.stat (baseline)", t_stat), ("first run: read + sha256 + sidecar", t_first),
                          ("later run: stat + sidecar lookup", t_again))]
    big = tmp / "media-big"
    big.mkdir()
    chunk = rng.bytes(64 << 20)
    bigs = []
    for i in range(16):
        made = big / f"{i:02d}.mp4"
        made.write_bytes(chunk)
        bigs.append(str(made))
    t0 = time.perf_counter()
    for p in bigs:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass
    t_read = time.perf_counter() - t0
    hashes = MediaHashes(tmp / "media-hashes-big.sqlite")
    t0 = time.perf_counter()
    for p in bigs:
        hashes.digest(p)
    hashes.flush()
    t_hash = time.perf_counter() - t0
    rows += [{"case": "media keys, 1 GiB in 16 files", "method": m, "value": v, "unit": "s", "ratio": v / t_read}
             for m, v in (("read only (baseline)", t_read), ("first run: read + sha256 + sidecar", t_hash))]
    return rows


def machine_description() -> str:
    """CPU model, core count, memory and GPU, for the bench rows (figures mean little without them)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, {gpu}"


def bench_suite(tmp: Path) -> list[dict[str, Any]]:
    from umeval.bench.suite import bench_suite as run_suite

    return run_suite(tmp)


def bench_gpu_sim(tmp: Path) -> list[dict[str, Any]]:
    """The generation pipeline before and after streaming, on a simulated H100 (:mod:`umeval.bench.gpu_sim`)."""
    from umeval.bench.gpu_sim import run_sim

    rows = run_sim(["ume-r1-2b", "ume-r1-7b"])
    before = {(r["model"], r["mode"]): r["hours"] for r in rows if r["pipeline"] == "before"}
    return [{"case": f"gpu_sim {r['model']} {r['mode']}", "method": r["pipeline"], "value": r["hours"],
             "unit": "simulated GPU h", "ratio": r["hours"] / before[(r["model"], r["mode"])], "busy": r["busy"]}
            for r in rows]


SECTIONS = {"scoring": bench_scoring, "float16": bench_float16, "precision": bench_precision,
            "pipeline": bench_pipeline, "generative": bench_generative, "vllm_submit": bench_vllm_submit,
            "suite": bench_suite, "maxsim": bench_maxsim, "gpu_sim": bench_gpu_sim, "media_hash": bench_media_hash}


def main(argv: list[str] | None = None) -> None:
    """``python -m umeval.bench [section ...]``: every section by default (see ``SECTIONS``)."""
    import sys

    names = (sys.argv[1:] if argv is None else argv) or list(SECTIONS)
    if names[0] == "gpu_sim" and len(names) > 1:  # gpu_sim with its own options (--median, --gpu, ...)
        from umeval.bench.gpu_sim import main as gpu_sim

        gpu_sim(names[1:])
        return
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"umeval.bench: unknown section {unknown[0]!r}; use any of {', '.join(SECTIONS)}")
    tmp = Path(tempfile.mkdtemp(prefix="umeval-bench-"))
    console = Console(width=160)
    t0 = time.perf_counter()
    try:
        rows = [r for n in names for r in SECTIONS[n](tmp)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    machine = machine_description()
    df = pd.DataFrame(rows).assign(machine=machine, total_seconds=time.perf_counter() - t0)
    table = Table(title=f"umeval bench ({machine}; ratio = method / umeval, or candidate / baseline)")
    cols = ("case", "method", "value", "unit", "ratio", "vs_floor", "peak_vs_candidates", "same_topk", "busy")
    for c in cols:
        table.add_column(c)
    for r in df.to_dict("records"):
        table.add_row(*[f"{r.get(c):.3g}" if isinstance(r.get(c), float) and r.get(c) == r.get(c)
                        else str(r.get(c, "")) for c in cols])
    console.print(table)
    out = Path("results/bench")
    out.mkdir(parents=True, exist_ok=True)
    from umeval.results.files import write_parquet

    path = out / ("bench.parquet" if names == list(SECTIONS) else f"bench-{'-'.join(names)}.parquet")
    write_parquet(path, df.astype({"same_topk": "object"}) if "same_topk" in df else df)
    console.print(f"written to {path} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
