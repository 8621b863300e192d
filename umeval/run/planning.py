"""What a run has to do, decided before any weights load.

For every (task, mode) of the command: a finished result with the same fingerprint and the same data is reused;
the rest is planned.  A cheap check that each planned task has its data (:func:`umeval.loaders.preflight`) runs
next, so a missing download fails (or, with ``keep_going``, is recorded as a failed result) before the model loads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umeval.core.errors import UmevalError
from umeval.core.spec import TaskSpec
from umeval.loaders import preflight
from umeval.results.task_result import TaskResult

if TYPE_CHECKING:
    from umeval.run.context import RunContext

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


def plan_run(specs: list[TaskSpec], ctx: RunContext) -> ResumePlan:
    """Reuse what is finished (same config, same data), plan the rest, and preflight the planned tasks' data.

    With ``keep_going`` a task whose data fails the preflight is written as a failed result and left out of
    ``todo``; without it the first such failure is raised.
    """
    todo: list[TaskPlan] = []
    done: dict[TaskKey, TaskResult] = {}
    for spec in specs:
        for mode in ctx.modes:
            task = TaskPlan(spec=spec, mode=mode, config_hash=ctx.task_hash(spec, mode),
                            out_dir=ctx.task_dir(spec, mode))
            prev = None if ctx.cfg.overwrite else TaskResult.load(task.scores_path)
            if (prev is not None and prev.config_hash == task.config_hash and prev.status == "ok"
                    and prev.data_fingerprint == ctx.data_fingerprint(spec)):
                done[task.key] = prev
            else:
                todo.append(task)
    failed: dict[TaskKey, TaskResult] = {}
    for spec in {t.spec.name: t.spec for t in todo}.values():
        try:
            preflight(spec, ctx.load_context(spec))
        except UmevalError as e:
            if not ctx.cfg.keep_going:
                raise
            for task in todo:
                if task.spec.name == spec.name:
                    failed[task.key] = record_failure(task, e, ctx)
    return ResumePlan(todo=[t for t in todo if t.key not in failed], done=done, failed=failed)


def record_failure(task: TaskPlan, err: Exception, ctx: RunContext,
                   extra: Mapping[str, Any] | None = None) -> TaskResult:
    """Log ``err`` and write it as the task's result (status ``failed``, no metrics).

    ``extra``: the setup hash and data fingerprint, when the task's data was loaded (else the setup hash only).
    """
    log.error("%s", err)
    result = ctx.result(task.spec, task.mode, task.config_hash, status="failed", error=str(err), metrics={},
                        n_queries=0, n_tied=0, **(extra or ctx.row_extra(task.spec)))
    result.write(task.scores_path)
    return result
