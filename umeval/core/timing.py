"""Where a run's time goes: wall, CPU and GPU time per task (and mode) and per stage.

The stages are :data:`STAGES`: ``load`` (the loader turning a spec into items), ``encode`` (the embedding memo,
store reads and writes included), ``search`` (ranking), ``metrics`` (per-query scores) and ``write`` (result
files).  Each stage function is marked with :func:`timed`; the runner says which task it is on with
:func:`begin_task`.  Nothing is measured unless a :class:`Timer` is active (:func:`activate`), so a stage
function called from a test or a notebook costs one context-variable read.

Times are per process: ``wall_s`` (``time.perf_counter``), ``cpu_s`` (this process's CPU time, all its threads)
and ``gpu_s``, the time between two CUDA events recorded on the current device's stream at the stage's start
and end, when this process has initialised CUDA (a GPU search, the HF encoder on a GPU); work done in another
process (the vLLM engine core) is in ``wall_s`` only, and ``gpu_s`` is null where CUDA is not in use.
A stage inside another (a result file written while loading) counts once, in the outer one.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

#: The stages in pipeline order (the order of the columns of ``umeval show --runs``).
STAGES = ("load", "encode", "search", "metrics", "write")

#: The key of work done outside any task (a shard pass walks many tasks without a per-task boundary).
NO_TASK = "-"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Clock:
    """Accumulated time of one stage of one task."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    gpu_s: float | None = None
    calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"wall_s": round(self.wall_s, 6), "cpu_s": round(self.cpu_s, 6),
                "gpu_s": None if self.gpu_s is None else round(self.gpu_s, 6), "calls": self.calls}


@dataclass
class TaskClock:
    """One task in one mode: its stages, its own wall time (from its start to the next task's) and items encoded."""

    task: str
    mode: str | None
    started: float
    ended: float | None = None
    stages: dict[str, Clock] = field(default_factory=dict)
    encoded: int = 0

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        end = self.ended if self.ended is not None else (now if now is not None else time.perf_counter())
        return {"task": self.task, "mode": self.mode, "wall_s": round(end - self.started, 6), "encoded": self.encoded,
                "stages": {s: self.stages[s].as_dict() for s in STAGES if s in self.stages}}


def _cuda_ready() -> bool:
    """True when this process already uses CUDA (never imports torch or initialises CUDA itself)."""
    torch = sys.modules.get("torch")
    try:
        return bool(torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized())
    except Exception:  # a torch build without CUDA support
        return False


class Timer:
    """The clocks of one command: one :class:`TaskClock` per (task, mode) in the order they ran."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()
        self.tasks: dict[str, TaskClock] = {}
        self.current: TaskClock | None = None
        self._depth = 0

    @staticmethod
    def key(task: str, mode: str | None) -> str:
        return f"{task}/{mode}" if mode else task

    def begin_task(self, task: str, mode: str | None) -> None:
        now = time.perf_counter()
        if self.current is not None and self.current.ended is None:
            self.current.ended = now
        key = self.key(task, mode)
        clock = self.tasks.get(key)
        if clock is None:
            clock = self.tasks[key] = TaskClock(task=task, mode=mode, started=now)
        else:  # the same task again (a second pass): its time adds up
            clock.started, clock.ended = now - (clock.ended or now) + clock.started, None
        self.current = clock

    def end_task(self) -> None:
        if self.current is not None and self.current.ended is None:
            self.current.ended = time.perf_counter()
        self.current = None

    def _target(self) -> TaskClock:
        if self.current is None:
            if NO_TASK not in self.tasks:
                self.tasks[NO_TASK] = TaskClock(task=NO_TASK, mode=None, started=time.perf_counter())
            return self.tasks[NO_TASK]
        return self.current

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._depth:  # counted once, in the outer stage
            yield
            return
        target = self._target()
        clock = target.stages.setdefault(name, Clock())
        gpu = _cuda_ready()
        if gpu:
            import torch

            start_ev, end_ev = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start_ev.record()
        w0, c0 = time.perf_counter(), time.process_time()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if gpu:
                end_ev.record()
                end_ev.synchronize()
                clock.gpu_s = (clock.gpu_s or 0.0) + start_ev.elapsed_time(end_ev) / 1000.0
            clock.wall_s += time.perf_counter() - w0
            clock.cpu_s += time.process_time() - c0
            clock.calls += 1

    def count_encoded(self, n: int) -> None:
        self._target().encoded += n

    # ------------------------------------------------------------ views

    def task_block(self, task: str, mode: str | None) -> dict[str, Any] | None:
        """The timing block of one task's result (what it took so far), or None when it did not run here."""
        clock = self.tasks.get(self.key(task, mode))
        if clock is None:
            return None
        out = clock.as_dict()
        out.pop("task")
        out.pop("mode")
        return out

    def totals(self) -> dict[str, Any]:
        """Per stage over all tasks, and the whole command's wall and CPU time so far."""
        stages: dict[str, Clock] = {}
        for clock in self.tasks.values():
            for name, c in clock.stages.items():
                t = stages.setdefault(name, Clock())
                t.wall_s += c.wall_s
                t.cpu_s += c.cpu_s
                t.calls += c.calls
                if c.gpu_s is not None:
                    t.gpu_s = (t.gpu_s or 0.0) + c.gpu_s
        return {"wall_s": round(time.perf_counter() - self.started, 6),
                "cpu_s": round(time.process_time() - self.cpu_started, 6),
                "stages": {s: stages[s].as_dict() for s in STAGES if s in stages}}

    def task_rows(self) -> list[dict[str, Any]]:
        now = time.perf_counter()
        return [c.as_dict(now) for c in self.tasks.values()]


_active: ContextVar[Timer | None] = ContextVar("umeval_timer", default=None)


@contextlib.contextmanager
def activate(timer: Timer) -> Iterator[Timer]:
    """Make ``timer`` the one the stage functions report to, for the ``with`` block."""
    token = _active.set(timer)
    try:
        yield timer
    finally:
        timer.end_task()
        _active.reset(token)


def active() -> Timer | None:
    return _active.get()


def begin_task(task: str, mode: str | None = None) -> None:
    """The work that follows belongs to ``task`` in ``mode`` (until the next call)."""
    timer = _active.get()
    if timer is not None:
        timer.begin_task(task, mode)


def end_task() -> None:
    """The work that follows belongs to no task (the leaderboard, the run record)."""
    timer = _active.get()
    if timer is not None:
        timer.end_task()


def count_encoded(n: int) -> None:
    """``n`` items were sent to the encoder for the current task."""
    timer = _active.get()
    if timer is not None:
        timer.count_encoded(n)


def task_block(task: str, mode: str | None) -> dict[str, Any] | None:
    """The current command's timing of ``task`` in ``mode`` so far (``scores.json``'s ``timing``), or None."""
    timer = _active.get()
    return timer.task_block(task, mode) if timer is not None else None


def stage(name: str) -> contextlib.AbstractContextManager[None]:
    """A ``with`` block timed as stage ``name`` of the current task (a no-op when no timer is active)."""
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    timer = _active.get()
    return timer.stage(name) if timer is not None else contextlib.nullcontext()


def timed(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: every call of the function is timed as stage ``name``."""
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            timer = _active.get()
            if timer is None:
                return fn(*args, **kwargs)
            with timer.stage(name):
                return fn(*args, **kwargs)

        return inner

    return wrap
