"""What a run has to do, decided before any weights load.

For every (task, mode) of the command: a finished result with the same fingerprint and the same data is reused;
the rest is planned.  A check that each planned task has all its data (:func:`umeval.data.status.preflight_all`)
runs next, so missing downloads fail together (or, with ``keep_going``, are recorded as failed results) before the
model loads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from umeval.core.errors import UmevalError
from umeval.core.spec import TaskSpec
from umeval.data.status import preflight_all
from umeval.loaders import LoadContext, load_task
from umeval.results import files as res
from umeval.results.task_result import TaskResult
from umeval.run.datafp import data_fingerprint
from umeval.run.fingerprints import task_fingerprint

log = logging.getLogger("umeval")

#: (task name, mode): how results are keyed within a run.
TaskKey = tuple[str, str]


@dataclass(frozen=True)
class TaskPlan:
    """One task in one mode to evaluate: the fingerprint its result will carry and the folder it is written to."""

    spec: TaskSpec
    mode: str
    config_hash: str
    out_dir: Path  # <output_dir>/<model>/tasks/<task>/<mode>

    @property
    def key(self) -> TaskKey:
        return (self.spec.name, self.mode)

    @property
    def label(self) -> str:
        return f"{self.spec.name} [{self.mode}]"

    @property
    def scores_path(self) -> Path:
        return self.out_dir / "scores.json"


@dataclass(frozen=True)
class ResumePlan:
    """What a run does.

    The tasks to evaluate, the finished results it reuses, and the tasks that failed the preflight (written as
    failed results, with ``keep_going``).
    """

    todo: list[TaskPlan]
    done: dict[TaskKey, TaskResult]
    failed: dict[TaskKey, TaskResult]


#: ``row_extra(spec)``: the setup hash and data fingerprint a result row of ``spec`` carries.
RowExtra = Callable[[TaskSpec], Mapping[str, Any]]


def plan_run(specs: list[TaskSpec], modes: list[str], cfg: DictConfig, *, inst_set: str,
             runtime: dict[str, Any], out_dir: Path, ctx_for: Callable[[TaskSpec], LoadContext],
             row_extra: RowExtra) -> ResumePlan:
    """Reuse what is finished (same config, same data), plan the rest, and preflight the planned tasks' data.

    With ``keep_going`` a task whose data fails the preflight is written as a failed result and left out of
    ``todo``; without it the first such failure is raised.
    """
    todo: list[TaskPlan] = []
    done: dict[TaskKey, TaskResult] = {}
    data_fps: dict[str, str | None] = {}
    for spec in specs:
        for mode in modes:
            task = TaskPlan(spec=spec, mode=mode, config_hash=task_fingerprint(spec, cfg, mode, inst_set, runtime),
                            out_dir=res.task_dir(out_dir, cfg.model.name, spec.name, mode))
            prev = None if cfg.overwrite else TaskResult.load(task.scores_path)
            if (prev is not None and prev.config_hash == task.config_hash and prev.status == "ok"
                    and prev.data_fingerprint == _data_fp(spec, ctx_for, data_fps)):
                done[task.key] = prev
            else:
                todo.append(task)
    failed: dict[TaskKey, TaskResult] = {}
    # Every planned task's data (rows and each media file they name), all checked before any is reported.
    bad = preflight_all(list({t.spec.name: t.spec for t in todo}.values()), ctx_for, raise_all=not cfg.keep_going)
    for task in todo:
        if task.spec.name in bad:
            failed[task.key] = record_failure(task, bad[task.spec.name], cfg, inst_set=inst_set, runtime=runtime,
                                              extra=row_extra(task.spec))
    return ResumePlan(todo=[t for t in todo if t.key not in failed], done=done, failed=failed)


def record_failure(task: TaskPlan, err: Exception, cfg: DictConfig, *, inst_set: str, runtime: Mapping[str, Any],
                   extra: Mapping[str, Any]) -> TaskResult:
    """Log ``err`` and write it as the task's result (status ``failed``, no metrics)."""
    log.error("%s", err)
    result = TaskResult.base(task.spec, task.mode, cfg, inst_set, task.config_hash, runtime, status="failed",
                             error=str(err), metrics={}, n_queries=0, n_tied=0, **extra)
    result.write(task.scores_path)
    return result


def _data_fp(spec: TaskSpec, ctx_for: Callable[[TaskSpec], LoadContext], memo: dict[str, str | None]) -> str | None:
    """The data fingerprint of a task (loaded once per run).

    None when the task cannot be loaded: it then re-runs and reports why.
    """
    if spec.name not in memo:
        ctx = ctx_for(spec)
        try:
            memo[spec.name] = data_fingerprint(load_task(spec, ctx), ctx.data_root)
        except UmevalError:
            memo[spec.name] = None
    return memo[spec.name]
