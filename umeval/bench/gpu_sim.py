"""``python -m umeval.bench gpu_sim``: the generation pipeline's scheduling against a simulated H100.

The scheduling code is the real one, :func:`umeval.encoders.gen_pipeline.run_pipeline`, with the policy the vLLM
encoder uses (``Policy(window=submit_items, readout_batch=submit_items // 4)``); only the engines are stand-ins
(:class:`SimGenerate`, :class:`SimReadout`) whose step time follows :class:`umeval.run.throughput.LatencyModel`
(prefill compute-bound, decode memory-bound, a fixed step overhead; constants and sources there) and whose
scheduler behaves like vLLM's: up to ``max_num_seqs`` running sequences within the KV-cache capacity, up to
``max_num_batched_tokens`` tokens per step, decode first, then chunked prefill of the newly admitted.  Both
engines share one simulated GPU clock (two engine processes on one GPU run one after the other).

Workload: the official task sizes (``mmeb_v2_sizes.tsv``: queries of the official v2.0.1 run; candidates from
the pool note, see :func:`workload`) with assumed media sizes and text lengths (constants below), visual
tokens from the model family's own cost function, and trace lengths drawn from a log-normal (median and
spread configurable) plus a share of runaway traces that hit ``max_new_tokens``.

Compared, in the same run: ``before``, the pipeline up to this change (one ``generate`` call per chunk of
``submit_items`` items of one task and role, which ends with its longest trace, then a second, serial pooling
pass over the chunk), and ``after`` (one stream over every task: no barrier, read-out overlapping generation).
``busy`` is the share of wall time the GPU's compute is occupied: prefill counts in full, a decode step by
``min(1, batch / roofline knee)``, per-step overhead and waiting not at all.
"""

from __future__ import annotations

import argparse
import csv
import re
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from umeval.encoders.gen_pipeline import Job, Policy, run_pipeline
from umeval.models.cost import ModelCost
from umeval.run.throughput import BACKBONES, GPUS, MAX_BATCHED_TOKENS, MAX_NUM_SEQS, LatencyModel

SIZES = Path(__file__).parents[1] / "data" / "mmeb_v2_sizes.tsv"  # the one copy of the official sizes

#: Assumed media and text (the sizes file has counts only).  Images: 640 x 480 (MSCOCO/VOC-like photos);
#: video frames: 640 x 360; pages: 1700 x 2200 (US letter at 200 dpi); text tokens of a query's instruction
#: and text, of a text candidate, and of UME-R1's chat template with its generation prompt.
IMAGE, FRAME, PAGE = (640, 480), (640, 360), (1700, 2200)
QUERY_TEXT, CANDIDATE_TEXT, TEMPLATE = 25, 8, 80
#: Unique candidates of an image task ("per-query list" of about 1,000: the suite bench's assumption).
IMAGE_POOL = 1000


@dataclass
class SimUnit:
    task: str
    role: str
    samples: int
    prompt: np.ndarray  # prompt tokens (text + visual) per item
    visual: np.ndarray


def _count(note: str, queries: int) -> int:
    """Unique candidates from the sizes file's note: a number, a range (its middle), or per-query options."""
    nums = [int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", note)]
    if not nums:
        return IMAGE_POOL
    if "options" in note or ("clips" in note and max(nums) <= 20):  # each query's own few candidates
        return max(nums) * queries
    return (nums[0] + nums[1]) // 2 if "range" in note and len(nums) >= 2 else nums[0]


def workload(cost: ModelCost, samples: int, path: Path = SIZES, scale: float = 1.0) -> list[SimUnit]:
    """Queries and candidates of every task, as prompt and visual token counts.

    Queries: image tasks an image and text, video classification/QA a video and text, the rest text.
    Candidates: image classification/QA text labels or answers, image retrieval and grounding images, video
    classification/QA texts, video retrieval videos, visual documents pages.
    """
    fam, lo, hi = cost.cost, cost.min_pixels, cost.max_pixels  # the family's arithmetic, the preset's bounds
    img = fam.image_tokens(IMAGE, lo, hi)
    vid = fam.video_tokens(FRAME, cost.num_frames, lo, hi)
    page = fam.image_tokens(PAGE, lo, hi)
    blank = fam.item_visual_tokens(_TextOnly(), lo, hi)  # a family's stand-in image on text-only items
    units = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            q = max(1, int(int(row["queries_official_run"]) * scale))
            c = max(1, int(_count(row["candidates_note"], int(row["queries_official_run"])) * scale))
            meta = row["meta_category"]
            q_vis = img if row["modality"] == "image" else vid if meta in ("V-CLS", "V-QA") else blank
            c_vis = {"I-RET": img, "I-VG": img, "V-RET": vid, "V-MRET": vid}.get(meta, blank)
            if row["modality"] == "visdoc":
                c_vis = page
            for role, n, vis, text, k in (("query", q, q_vis, QUERY_TEXT, samples),
                                          ("candidate", c, c_vis, CANDIDATE_TEXT, 1)):
                units.append(SimUnit(row["task"], role, k, np.full(n, TEMPLATE + text + vis), np.full(n, vis)))
    return units


class _TextOnly:
    image = None
    images = ()
    video = ()


class Gpu:
    """The shared clock of one simulated GPU: wall time and the time its compute was occupied."""

    def __init__(self, lat: LatencyModel) -> None:
        self.lat, self.clock, self.useful = lat, 0.0, 0.0

    def prefill(self, tokens: float, visual: float) -> None:
        t = self.lat.prefill_seconds(tokens, visual)
        self.clock += t + self.lat.step_overhead
        self.useful += t


@dataclass
class _Out:
    """What :class:`SimGenerate` returns for a finished request (as vLLM's output, the parts the sim needs)."""

    trace: int
    n: int


class SimGenerate:
    """A stand-in generation engine with vLLM's admission rules and the latency model's step time.

    A step runs the decode of every running sequence and the chunked prefill of newly admitted ones.  When no
    sequence is prefilling and none can be admitted, it jumps to the next finish (the steps in between are
    identical but for the growing KV reads, summed exactly).  Trace lengths come from ``traces`` (one per job).
    """

    def __init__(self, gpu: Gpu, traces: np.ndarray, kv_tokens: int, max_seqs: int = MAX_NUM_SEQS,
                 max_tokens: int = MAX_BATCHED_TOKENS) -> None:
        self.gpu, self.traces, self.kv_cap = gpu, traces, kv_tokens
        self.max_seqs, self.max_tokens = max_seqs, max_tokens
        self.waiting: deque[tuple[str, Job]] = deque()
        self.rid = [""] * max_seqs
        self.job: list[Job | None] = [None] * max_seqs
        self.active = np.zeros(max_seqs, bool)
        self.left = np.zeros(max_seqs, np.int64)  # prompt tokens still to prefill
        self.ctx = np.zeros(max_seqs, np.int64)  # KV entries held
        self.gen = np.zeros(max_seqs, np.int64)
        self.target = np.zeros(max_seqs, np.int64)
        self.order = np.zeros(max_seqs, np.int64)  # admission order (prefill goes first come, first served)
        self.n = np.ones(max_seqs, np.int64)  # sequences per request (gen.samples sampled side by side)
        self.admitted = 0

    def add(self, rid: str, job: Job) -> None:
        self.waiting.append((rid, job))

    def _admit(self) -> None:
        while self.waiting:
            rid, job = self.waiting[0]
            free = np.flatnonzero(~self.active)
            need = job.cost["prompt"] * job.cost.get("n", 1)
            if free.size == 0 or self._kv() + need > self.kv_cap:
                return
            self.waiting.popleft()
            s = int(free[0])
            self.rid[s], self.job[s], self.active[s] = rid, job, True
            self.left[s], self.ctx[s], self.gen[s] = job.cost["prompt"], 0, 0
            self.target[s] = int(self.traces[job.index])
            self.order[s] = self.admitted
            self.n[s] = job.cost.get("n", 1)
            self.admitted += 1

    def _kv(self) -> int:
        return int((self.ctx * self.n)[self.active].sum())

    def _preempt(self) -> None:
        """Out of KV cache: the last admitted request goes back to the queue and starts over (vLLM V1)."""
        while self._kv() > self.kv_cap and self.active.sum() > 1:
            s = int(np.flatnonzero(self.active)[np.argmax(self.order[self.active])])
            self.waiting.appendleft((self.rid[s], self.job[s]))  # type: ignore[arg-type]
            self.active[s], self.job[s] = False, None

    def step(self) -> list[tuple[str, Any]]:
        lat = self.gpu.lat
        self._admit()
        decoding = self.active & (self.left == 0)
        b = int(decoding.sum())
        prefilling = np.flatnonzero(self.active & (self.left > 0))
        n = self.n
        if prefilling.size == 0 and b and (not self.waiting or not self._room()):
            # Nothing to prefill and nothing to admit: identical decode steps up to the next finish.
            seqs = int(n[decoding].sum())  # n samples of a request decode side by side
            room = (self.kv_cap - self._kv()) // max(1, seqs)  # steps before the KV cache is full
            k = max(1, min(int((self.target - self.gen)[decoding].min()), int(room)))
            ctx0 = float((self.ctx * n)[decoding].sum())
            steps = np.arange(k)
            mem = (lat.model.weight_bytes + (ctx0 + steps * seqs) * lat.model.kv_bytes_per_token) / lat.bandwidth
            kernel = np.maximum(mem, 2 * lat.model.llm_params * seqs / lat.flops)
            self.gpu.clock += float(kernel.sum()) + k * lat.step_overhead
            self.gpu.useful += float(kernel.sum()) * min(1.0, seqs / lat.knee)
            self.gen[decoding] += k
            self.ctx[decoding] += k
        else:
            budget = self.max_tokens - b
            tokens = visual = 0.0
            for s in prefilling[np.argsort(self.order[prefilling])]:
                take = int(min(self.left[s], budget))
                if take <= 0:
                    break
                job = self.job[s]
                tokens += take
                visual += take * job.cost["visual"] / max(1, job.cost["prompt"])
                self.left[s] -= take
                self.ctx[s] += take
                budget -= take
            seqs = int(n[decoding].sum())
            ctx = float((self.ctx * n)[decoding].sum())
            t_pre = lat.prefill_seconds(tokens, visual)
            t_dec = lat.decode_seconds(seqs, ctx)
            self.gpu.clock += t_pre + t_dec + lat.step_overhead
            self.gpu.useful += t_pre + t_dec * min(1.0, seqs / lat.knee)
            self.gen[decoding] += 1
            self.ctx[decoding] += 1
            first = prefilling[self.left[prefilling] == 0]  # a finished prefill samples the first token
            self.gen[first] += 1
        self._preempt()
        done = np.flatnonzero(self.active & (self.gen >= self.target) & (self.left == 0))
        out = []
        for s in done:
            out.append((self.rid[s], _Out(int(self.target[s]), int(n[s]))))
            self.active[s], self.job[s] = False, None
        return out

    def _room(self) -> bool:
        _, job = self.waiting[0]
        need = job.cost["prompt"] * job.cost.get("n", 1)
        return bool((~self.active).any()) and self._kv() + need <= self.kv_cap


class SimReadout:
    """A stand-in pooling engine: each submitted request is a prefill of its tokens (vision encoder included)."""

    def __init__(self, gpu: Gpu, max_tokens: int = MAX_BATCHED_TOKENS) -> None:
        self.gpu, self.max_tokens = gpu, max_tokens
        self.queue: list[tuple[str, dict[str, Any]]] = []

    def submit(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        self.queue += batch

    def poll(self, wait: bool) -> list[tuple[str, np.ndarray]]:
        # The pooling engine works through what it was given, in steps of max_num_batched_tokens.
        tokens = sum(r["tokens"] for _, r in self.queue)
        visual = sum(r["visual"] for _, r in self.queue)
        steps = -(-int(tokens) // self.max_tokens)
        if steps:
            t = self.gpu.lat.prefill_seconds(tokens, visual)
            self.gpu.clock += t + steps * self.gpu.lat.step_overhead
            self.gpu.useful += t
        out = [(rid, _ONE) for rid, _ in self.queue]
        self.queue = []
        return out

    def pending(self) -> int:
        return len(self.queue)


_ONE = np.ones(1, np.float32)


def trace_lengths(n: int, median: float, sigma: float, runaway: float, limit: int, seed: int = 0) -> np.ndarray:
    """Trace lengths: log-normal (``median``, ``sigma``) clipped to [1, limit], a ``runaway`` share at the limit."""
    rng = np.random.default_rng(seed)
    x = np.clip(np.round(median * np.exp(sigma * rng.standard_normal(n))), 1, limit).astype(np.int64)
    x[rng.random(n) < runaway] = limit
    return x


def simulate_gen(units: list[SimUnit], lat: LatencyModel, traces: np.ndarray, *, barrier: bool,
                 window: int = 1024, kv_share: float = 0.8) -> dict[str, float]:
    """Wall time and busy share of generating and reading out every unit, before (barrier) or after."""
    gpu = Gpu(lat)
    cap = lat.kv_capacity_tokens(kv_share)
    jobs: list[Job] = []
    for u in units:
        for p, v in zip(u.prompt, u.visual):
            jobs.append(Job(index=len(jobs), prompt_ids=[], media={}, seed=0,
                            cost={"prompt": int(p), "visual": int(v), "n": u.samples}))
    n_done = 0

    def finish(job: Job, out: _Out) -> list[dict[str, Any]]:
        return [{"tokens": job.cost["prompt"] + out.trace, "visual": job.cost["visual"]}] * out.n

    def done(job: Job, vecs: np.ndarray) -> None:
        nonlocal n_done
        n_done += 1

    if barrier:  # the pipeline before: a call per chunk of one task and role, each ending with its longest trace
        start = 0
        for u in units:
            part = jobs[start: start + len(u.prompt)]
            start += len(u.prompt)
            for c in range(0, len(part), window):
                run_pipeline(part[c: c + window], SimGenerate(gpu, traces, cap), SimReadout(gpu),
                             Policy(window=window, barrier=True), finish, done)
    else:
        run_pipeline(jobs, SimGenerate(gpu, traces, cap), SimReadout(gpu),
                     Policy(window=window, readout_batch=max(1, window // 4)), finish, done)
    assert n_done == len(jobs)
    return {"hours": gpu.clock / 3600, "busy": gpu.useful / gpu.clock if gpu.clock else 0.0, "items": len(jobs),
            "gen_tokens": float(traces[: len(jobs)].sum())}


def simulate_disc(units: list[SimUnit], lat: LatencyModel, window: int = 1024) -> dict[str, float]:
    """Disc mode: one pooling pass per chunk of ``window`` items (unchanged by this pipeline work)."""
    gpu = Gpu(lat)
    pool = SimReadout(gpu)
    n = 0
    for u in units:
        for c in range(0, len(u.prompt), window):
            pool.submit([(str(i), {"tokens": int(p), "visual": int(v)}) for i, (p, v) in
                         enumerate(zip(u.prompt[c: c + window], u.visual[c: c + window]))])
            n += len(pool.poll(True))
    return {"hours": gpu.clock / 3600, "busy": gpu.useful / gpu.clock if gpu.clock else 0.0, "items": n,
            "gen_tokens": 0.0}


def run_sim(models: list[str], *, gpu: str = "h100", median: float = 300, sigma: float = 0.6,
            runaway: float = 0.01, limit: int = 8192, samples: int = 1, scale: float = 1.0,
            sizes: Path = SIZES, on_row: Any = None) -> list[dict[str, Any]]:
    """Rows of (model, mode, pipeline, simulated hours, busy share) for each model preset."""
    from umeval.core.config import compose_config
    from umeval.models.family import backbone_of, token_cost

    rows = []
    for name in models:
        m = compose_config([f"model={name}"]).model
        lat = LatencyModel.at(GPUS[gpu], BACKBONES[backbone_of(m)])
        units = workload(token_cost(m), samples, sizes, scale)
        n = sum(len(u.prompt) for u in units)
        traces = trace_lengths(n, median, sigma, runaway, limit)
        for mode in ("gen", "disc"):
            for pipeline in ("before", "after"):
                t0 = time.perf_counter()
                r = (simulate_gen(units, lat, traces, barrier=pipeline == "before") if mode == "gen"
                     else simulate_disc(units, lat))
                rows.append({"model": name, "mode": mode, "pipeline": pipeline, **r,
                             "sim_seconds": time.perf_counter() - t0})
                if on_row:
                    on_row(rows[-1])
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(prog="python -m umeval.bench gpu_sim", description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="ume-r1-2b,ume-r1-7b")
    ap.add_argument("--gpu", default="h100", choices=sorted(GPUS))
    ap.add_argument("--median", type=float, default=300, help="median trace length in tokens")
    ap.add_argument("--sigma", type=float, default=0.6, help="log-normal spread of trace lengths")
    ap.add_argument("--runaway", type=float, default=0.01, help="share of traces that run to max_new_tokens")
    ap.add_argument("--max-new-tokens", type=int, default=8192)
    ap.add_argument("--samples", type=int, default=1, help="gen.samples (traces per query)")
    ap.add_argument("--scale", type=float, default=1.0, help="scale every task's size (a quick look)")
    ap.add_argument("--sizes", type=Path, default=SIZES, help="the task sizes table (TSV)")
    a = ap.parse_args(argv)
    print(f"simulated {GPUS[a.gpu].name}; traces: log-normal median {a.median:g}, sigma {a.sigma:g}, "
          f"{a.runaway:.1%} run to {a.max_new_tokens}; gen.samples={a.samples}; task sizes x{a.scale:g}")
    print(f"{'model':<11} {'mode':<5} {'pipeline':<8} {'items':>8} {'GPU hours':>10} {'busy':>6}", flush=True)

    def show(r: dict[str, Any]) -> None:
        print(f"{r['model']:<11} {r['mode']:<5} {r['pipeline']:<8} {r['items']:>8} {r['hours']:>10.2f} "
              f"{r['busy']:>6.1%}", flush=True)

    return run_sim(a.models.split(","), gpu=a.gpu, median=a.median, sigma=a.sigma, runaway=a.runaway,
                   limit=a.max_new_tokens, samples=a.samples, scale=a.scale, sizes=a.sizes, on_row=show)
