"""The generation pipeline's scheduling (umeval.encoders.gen_pipeline) on toy engines with known answers.

The toy generation engine has 2 slots; each step decodes one token in every occupied slot.  Ten items, one trace
of 10 tokens and nine of 1: streamed, the long trace holds one slot for 10 steps while the nine short ones pass
through the other (19 token-steps in 10 steps: busy 19/20); with a barrier every 2 items, the first chunk waits
10 steps for its long trace and four more chunks take a step each (14 steps: busy 19/28).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import pytest

from umeval.encoders.gen_pipeline import Job, Policy, run_pipeline

LENGTHS = [10] + [1] * 9


class ToyGen:
    def __init__(self, lengths: list[int], slots: int = 2) -> None:
        self.lengths, self.slots = lengths, slots
        self.waiting: deque[tuple[str, Job]] = deque()
        self.running: dict[str, list[int]] = {}
        self.steps = self.token_steps = 0

    def add(self, rid: str, job: Job) -> None:
        self.waiting.append((rid, job))

    def step(self) -> list[tuple[str, Any]]:
        while self.waiting and len(self.running) < self.slots:
            rid, job = self.waiting.popleft()
            self.running[rid] = [self.lengths[job.index], job.index]
        self.steps += 1
        self.token_steps += len(self.running)
        out = []
        for rid in list(self.running):
            self.running[rid][0] -= 1
            if self.running[rid][0] == 0:
                out.append((rid, self.running.pop(rid)[1]))
        return out


class ToyReadout:
    def __init__(self, gen: ToyGen) -> None:
        self.gen, self.queue, self.submitted_at = gen, [], []

    def submit(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        self.submitted_at.append(self.gen.steps)
        self.queue += batch

    def poll(self, wait: bool) -> list[tuple[str, np.ndarray]]:
        out = [(rid, np.array([float(req["item"])], np.float32)) for rid, req in self.queue]
        self.queue = []
        return out

    def pending(self) -> int:
        return len(self.queue)


def _run(barrier: bool) -> tuple[ToyGen, ToyReadout, dict[int, np.ndarray]]:
    gen = ToyGen(LENGTHS)
    readout = ToyReadout(gen)
    got: dict[int, np.ndarray] = {}
    jobs = [Job(index=i, prompt_ids=[], media={}, seed=i) for i in range(len(LENGTHS))]

    def finish(job: Job, out: Any) -> list[dict[str, Any]]:
        return [{"item": out}, {"item": out}]  # two traces per item

    def done(job: Job, vecs: np.ndarray) -> None:
        assert job.index not in got
        got[job.index] = vecs

    run_pipeline(jobs, gen, readout, Policy(window=2, readout_batch=4, barrier=barrier), finish, done)
    return gen, readout, got


def test_streaming_has_no_chunk_barrier():
    """Bug caught: a scheduler that waits for each chunk's longest trace (the pipeline before): 14 steps, busy 68 %."""
    gen, _, _ = _run(barrier=False)
    assert gen.steps == 10 and gen.token_steps == 19
    assert gen.token_steps / (gen.slots * gen.steps) == pytest.approx(0.95)


def test_barrier_policy_is_the_old_pipeline():
    """Bug caught: the benchmark's 'before' not being the chunk-barrier pipeline (then its ratio means nothing)."""
    gen, _, _ = _run(barrier=True)
    assert gen.steps == 14 and gen.token_steps / (gen.slots * gen.steps) == pytest.approx(19 / 28)


def test_readout_overlaps_generation_and_results_do_not_depend_on_policy():
    """Bug caught: read-out deferred to the end of generation (a serial second pass), or results that move with the
    schedule (an item's vectors mixed with another's, an item done twice or never)."""
    _, readout, streamed = _run(barrier=False)
    assert readout.submitted_at[0] == 1  # the first finished item is read out while the long trace runs
    _, _, chunked = _run(barrier=True)
    assert sorted(streamed) == list(range(10))
    for i in range(10):
        np.testing.assert_array_equal(streamed[i], chunked[i])
        assert streamed[i].shape == (2, 1) and streamed[i][0, 0] == i


def test_simulated_h100_streaming_keeps_the_gpu_busy():
    """Bug caught: the gpu_sim stand-in engine or the scheduler losing the benefit of streaming: on a uniform
    batch of traces with one runaway per chunk (in the first half of the stream, so that the stream's own end is
    not a runaway's tail), the barrier pipeline idles while the stream stays >= 90 % busy."""
    from umeval.bench.gpu_sim import SimUnit, simulate_gen
    from umeval.run.throughput import BACKBONES, GPUS, LatencyModel

    lat = LatencyModel(GPUS["h100"], BACKBONES["qwen2-vl-2b"], step_overhead=0.0)  # scheduling losses only
    n = 32768
    units = [SimUnit("t", "query", 1, np.full(n, 500), np.full(n, 400))]
    traces = np.full(n, 300)
    traces[: n // 2: 512] = 8192
    before = simulate_gen(units, lat, traces, barrier=True, window=512)
    after = simulate_gen(units, lat, traces, barrier=False, window=512)
    assert after["busy"] >= 0.9 > before["busy"]
    assert after["hours"] < 0.75 * before["hours"]
