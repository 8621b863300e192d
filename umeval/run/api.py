"""The Python API: ``umeval.evaluate(model=..., tasks=..., **settings) -> Results``.

It runs the code ``umeval run`` runs: the settings become Hydra overrides, :func:`umeval.core.config.compose_config`
checks them (the same one-line errors, before any data or weights load), :func:`umeval.run.runner.run` evaluates,
and the command is appended to the model's run history (:mod:`umeval.run.history`).  ``umeval run`` itself is
:func:`evaluate_config` plus printing.

Example::

    import umeval

    r = umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], data_root="~/MMEB-V2", output_dir="results")
    r.leaderboard                      # pandas DataFrame, one row per (task, mode, metric) and roll-up
    r.main_scores()                    # task, mode, main metric, value
    r["ImageNet-1K"].metrics["hit@1"]  # a TaskResult (umeval.results.task_result)

Settings are :class:`umeval.core.config.RunConfig` fields (``mode="both"``, ``limit=100``, ``batch_size=4``);
nested ones as a dict (``gen={"samples": 4}``) or a dotted key (``**{"model.num_frames": 16}``); anything else in
Hydra syntax through ``overrides=["+model.options.x=1"]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from umeval.core.errors import ConfigError
from umeval.results.task_result import TaskResult


def hydra_value(value: Any) -> str:
    """``value`` written in Hydra's override grammar.

    Strings are quoted (so a path or a name with ``=``, spaces or commas stays one string), lists are ``[a,b]``,
    None is ``null``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    raise ConfigError(f"cannot pass a {type(value).__name__} as a setting value ({value!r})",
                      "pass a string, number, bool, None, list, or a dict of those")


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}", v)
    else:
        yield prefix, value


def to_overrides(model: str | None = None, tasks: str | Sequence[str] | None = None,
                 settings: Mapping[str, Any] | None = None, overrides: Sequence[str] = ()) -> list[str]:
    """The ``key=value`` overrides of an :func:`evaluate` call (what ``umeval run`` would be given)."""
    out: list[str] = []
    if model is not None:
        if not isinstance(model, str):
            raise ConfigError(f"model must be a preset name, not {type(model).__name__}",
                              "pass model='oracle' (see `umeval list models`)")
        out.append(f"model={model}")  # a config-group choice: never quoted
    if tasks is not None:
        out.append(f"task={hydra_value(tasks if isinstance(tasks, str) else list(tasks))}")
    for key, value in (settings or {}).items():
        if key in ("task", "model"):
            raise ConfigError(f"pass {key} as the argument {'tasks' if key == 'task' else 'model'}=",
                              "e.g. umeval.evaluate(model='oracle', tasks=['ImageNet-1K'])")
        for k, v in _flatten(key, value):
            out.append(f"{k}={hydra_value(v)}")
    return [*out, *overrides]


@dataclass(frozen=True)
class Results:
    """What an evaluation produced: the leaderboard and each task's :class:`TaskResult`.

    ``results`` is keyed by (task, mode) and holds every result of the model's board (those this call computed
    and those it found finished and reused); ``failed`` names the "task/mode" that failed in this call
    (with ``keep_going``).  Results are on disk under ``output_dir/model`` too.
    """

    output_dir: Path
    model: str
    leaderboard: pd.DataFrame  # the rows of <model>/leaderboard.parquet, name/mode/metric/value first
    results: dict[tuple[str, str], TaskResult] = field(default_factory=dict)
    encoder_calls: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def model_dir(self) -> Path:
        return self.output_dir / self.model

    def task(self, name: str, mode: str | None = None) -> TaskResult:
        """The result of task ``name`` in ``mode`` (by default its only mode, else disc)."""
        modes = [m for t, m in self.results if t == name]
        if not modes:
            from umeval.core.plugins import suggest

            hint = suggest(name, sorted({t for t, _ in self.results}))
            raise KeyError(f"no result for task {name!r}" + (f"; {hint}" if hint else ""))
        if mode is None:
            mode = modes[0] if len(modes) == 1 else "disc" if "disc" in modes else modes[0]
        return self.results[(name, mode)]

    def __getitem__(self, name: str) -> TaskResult:
        return self.task(name)

    def main_scores(self) -> pd.DataFrame:
        """One row per task result: task, mode, main metric, its value and status."""
        rows = [{"task": r.task, "mode": r.mode, "metric": r.main_metric,
                 "value": r.metrics.get(r.main_metric or "", float("nan")), "status": r.status}
                for r in self.results.values()]
        return pd.DataFrame(rows, columns=["task", "mode", "metric", "value", "status"])

    def __repr__(self) -> str:
        return (f"Results(model={self.model!r}, {len(self.results)} task results, {len(self.failed)} failed, "
                f"encoder_calls={self.encoder_calls}, output_dir={str(self.output_dir)!r})")


#: The leaderboard's first columns in :attr:`Results.leaderboard` (the file keeps its schema's order).
FRONT = ["name", "mode", "metric", "value", "level", "is_main"]


def results_of(summary: Any) -> Results:
    """:class:`Results` from what :func:`umeval.run.runner.run` returned."""
    by_key = {(r["task"], r["mode"]): TaskResult.from_dict(r) for r in summary.scores}
    board = summary.leaderboard
    if len(board.columns):  # what a reader looks for first (``print(r.leaderboard)`` shows the first columns)
        board = board[[*FRONT, *(c for c in board.columns if c not in FRONT)]]
    return Results(output_dir=Path(summary.output_dir), model=str(summary.model), leaderboard=board,
                   results=by_key, encoder_calls=int(summary.encoder_calls), failed=list(summary.failed))


def evaluate_config(cfg: DictConfig, *, command: str = "api", encoder_factory: Callable[..., Any] | None = None,
                    console: Any = None, argv: list[str] | None = None) -> Results:
    """Run a composed config (:func:`umeval.core.config.compose_config`) and record the command in the history."""
    from umeval.run.history import recording
    from umeval.run.runner import run

    with recording(cfg, command, argv=argv) as rec:
        rec.summary = run(cfg, encoder_factory=encoder_factory, console=console)
    return results_of(rec.summary)


def evaluate(model: str | None = None, tasks: str | Sequence[str] | None = None, *,
             overrides: Sequence[str] = (), encoder_factory: Callable[..., Any] | None = None,
             **settings: Any) -> Results:
    """Evaluate ``model`` (a preset: ``umeval list models``) on ``tasks`` (names or groups: ``umeval list tasks``).

    ``settings`` are run settings (see the module docstring); unset ones take ``umeval run``'s defaults.
    ``encoder_factory`` replaces the model's encoder class (``factory(model_cfg, cache_dir=..., device=...,
    batch_size=..., num_workers=...) -> Encoder``), e.g. for an encoder of your own.  Bad settings raise
    :class:`umeval.core.errors.ConfigError` before anything loads.
    """
    from umeval.core.config import compose_config

    cfg = compose_config(to_overrides(model, tasks, settings, overrides))
    return evaluate_config(cfg, command="api", encoder_factory=encoder_factory)
