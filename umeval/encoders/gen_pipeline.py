"""The generative pipeline's scheduling, apart from any engine: sample traces, then read out each embedding.

UME-R1's generative embedding of an item is two engine passes: a generation request samples its traces, then
a read-out request per trace (prompt + generated ids, with the item's media) returns the hidden state at
``<gen_emb>``.  :func:`run_pipeline` decides what goes to which engine when; the engines are injected
(:class:`GenEngine`, :class:`ReadoutEngine`), so vLLM (:mod:`umeval.encoders.vllm_backend`) and the simulated
H100 of ``python -m umeval.bench gpu_sim`` run the very same scheduling.

Two policies:

* ``streaming`` (the default): the generation engine is kept ``window`` requests deep; a request that finishes
  is replaced at once by the next item (no barrier: a long trace holds up nothing but itself), and its read-out
  requests go to the read-out engine while generation goes on (batched up to ``readout_batch``, or at once
  when the read-out engine is idle).
* ``barrier`` (the pipeline before, kept for the benchmark): items in chunks of ``window``; a chunk's
  generation ends with its longest trace, then the chunk is read out while generation waits.

Results do not depend on the policy: each request carries its own seed, and the read-out of a trace depends
only on that trace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass
class Job:
    """One item's generation request, as the encoder prepared it."""

    index: int  # position in the caller's item list
    prompt_ids: list[int]  # one placeholder per medium (the engine expands it)
    media: dict[str, Any]
    seed: int
    cost: dict[str, int] = field(default_factory=dict)  # what a simulated engine needs (prompt, visual tokens)


class GenEngine(Protocol):
    """Takes generation requests and returns them finished, in any order."""

    def add(self, rid: str, job: Job) -> None: ...

    def step(self) -> list[tuple[str, Any]]:
        """Advance; the (request id, output) of every request that finished."""
        ...


class ReadoutEngine(Protocol):
    """Takes batches of read-out requests without blocking; returns vectors as they are done."""

    def submit(self, batch: list[tuple[str, dict[str, Any]]]) -> None: ...

    def poll(self, wait: bool) -> list[tuple[str, np.ndarray]]:
        """(request id, vector) of finished read-outs; with ``wait``, at least one batch (if any is pending)."""
        ...

    def pending(self) -> int:
        """Read-out requests submitted and not yet returned."""
        ...


@dataclass(frozen=True)
class Policy:
    window: int = 1024  # generation requests in flight (barrier: items per chunk)
    readout_batch: int = 256  # read-out requests per pooling call, at most
    barrier: bool = False


#: ``finish(job, output)`` -> one read-out request per returned trace (the encoder builds the traces);
#: ``done(job, vectors)`` receives them, one row per trace, in order.
Finish = Callable[[Job, Any], list[dict[str, Any]]]
Done = Callable[[Job, np.ndarray], None]


class _Readouts:
    """Read-out requests waiting to be sent, and vectors waiting for the rest of their item."""

    def __init__(self, engine: ReadoutEngine, done: Done) -> None:
        self.engine, self.done = engine, done
        self.queue: list[tuple[str, dict[str, Any]]] = []
        self.parts: dict[str, tuple[Job, list[np.ndarray | None]]] = {}

    def add(self, rid: str, job: Job, requests: list[dict[str, Any]]) -> None:
        self.parts[rid] = (job, [None] * len(requests))
        self.queue += [(f"{rid}/{r}", req) for r, req in enumerate(requests)]

    def flush(self) -> None:
        if self.queue:
            self.engine.submit(self.queue)
            self.queue = []

    def collect(self, wait: bool) -> None:
        for rrid, vec in self.engine.poll(wait):
            rid, r = rrid.rsplit("/", 1)
            job, rows = self.parts[rid]
            rows[int(r)] = vec
            if all(v is not None for v in rows):
                del self.parts[rid]
                self.done(job, np.stack(rows))  # type: ignore[arg-type]

    @property
    def outstanding(self) -> bool:
        return bool(self.parts)


def run_pipeline(jobs: Iterable[Job], gen: GenEngine, readout: ReadoutEngine, policy: Policy,
                 finish: Finish, done: Done) -> None:
    """Generate and read out every job; ``done`` is called once per job (in completion order)."""
    outs = _Readouts(readout, done)
    todo: Iterator[Job] = iter(jobs)
    if policy.barrier:
        _run_barrier(todo, gen, outs, policy, finish)
        return
    live: dict[str, Job] = {}
    exhausted = False
    while True:
        while not exhausted and len(live) < policy.window:  # top up: no chunk boundary, no waiting
            job = next(todo, None)
            if job is None:
                exhausted = True
                break
            rid = str(job.index)
            gen.add(rid, job)
            live[rid] = job
        if not live and not outs.outstanding:
            return
        if live:
            for rid, out in gen.step():
                job = live.pop(rid)
                outs.add(rid, job, finish(job, out))
        # Read-outs go out in batches, or at once when the read-out engine has nothing to do.
        if outs.queue and (len(outs.queue) >= policy.readout_batch or readout.pending() == 0 or not live):
            outs.flush()
        outs.collect(wait=not live)


def _run_barrier(todo: Iterator[Job], gen: GenEngine, outs: _Readouts, policy: Policy, finish: Finish) -> None:
    while True:
        chunk = [job for _, job in zip(range(policy.window), todo)]
        if not chunk:
            return
        live = {str(job.index): job for job in chunk}
        for rid, job in live.items():
            gen.add(rid, job)
        while live:  # the chunk waits for its longest trace
            for rid, out in gen.step():
                job = live.pop(rid)
                outs.add(rid, job, finish(job, out))
        outs.flush()
        while outs.outstanding:  # then the read-out, while generation waits
            outs.collect(wait=True)
