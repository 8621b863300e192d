"""Leaderboards as views of what is on disk.

After every run, ``<output_dir>/<model>/leaderboard.parquet`` is rebuilt from every task result of the model
(``tasks/<task>/<mode>/scores.json``: all modes, all earlier commands), not just the tasks of the last
command.  A result that the current config would not produce (another model revision, instruction set,
limit, library version...) is kept in the table with status ``stale`` and left out of every roll-up; a
result of a task no longer registered is ``stale`` too.  Which config a result must match:

* a mode the command ran, or ``disc``: the full task fingerprint (``config_hash``);
* ``gen`` when the command did not run it: the fingerprint of everything but the generative settings
  (``setup_hash``), so a disc-only command does not need to repeat ``gen.samples=`` to keep the gen rows;
* ``oracle``: rebuilt by the run (:func:`umeval.run.evaluate.oracle_scores`) from the current disc and gen
  results of the task, the pairs :attr:`BoardView.oracle_inputs` lists; stale otherwise.  The board itself
  only reads: it writes no file.

Data fingerprints are checked for the tasks a command runs (they are loaded anyway); a task outside the
command is judged by its config only, so rebuilding stays a read of small JSON files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umeval.core.registry import discover_tasks
from umeval.core.spec import TaskSpec
from umeval.results.task_result import TaskResult


def read_scores(path: Path) -> dict[str, Any] | None:
    """The flat view of the result in ``path`` (any schema version), or None when there is none readable."""
    result = TaskResult.load(path)
    return result.to_row() if result is not None else None


def on_disk(model_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Every ``scores.json`` under ``model_dir/tasks`` by (task, mode)."""
    out = {}
    for f in sorted((model_dir / "tasks").glob("*/*/scores.json")):
        scores = read_scores(f)
        if scores is not None:
            out[(str(scores["task"]), str(scores["mode"]))] = scores
    return out


def stale(scores: dict[str, Any], why: str) -> dict[str, Any]:
    """``scores`` marked stale (only a finished result can be stale; a failure stays a failure)."""
    if scores.get("status") != "ok":
        return scores
    return {**scores, "status": "stale", "error": why}


@dataclass
class BoardView:
    """What a leaderboard shows: scores by (task, mode), their specs, and the tasks whose oracle is due.

    ``oracle_inputs`` holds (spec, disc row, gen row) for every task with a current disc and gen result; the run
    computes those oracles and adds them with :meth:`add`.
    """

    scores: dict[tuple[str, str], dict[str, Any]]
    specs: list[TaskSpec]
    oracle_inputs: list[tuple[TaskSpec, dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def add(self, task: str, mode: str, row: dict[str, Any]) -> None:
        self.scores[(task, mode)] = row

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.scores.values())


def current_view(model_dir: Path, ran: dict[tuple[str, str], dict[str, Any]], modes: list[str] | tuple[str, ...],
                 expected_hash: Callable[[TaskSpec, str], tuple[str, str]]) -> BoardView:
    """The scores to show and the specs they belong to.

    Shown: this command's results and every other result on disk, stale ones marked.
    ``ran`` holds this command's results (finished, reused or failed) by (task, mode);
    ``expected_hash(spec, mode)`` gives (config_hash, setup_hash) the current config would write.
    """
    reg = discover_tasks()
    found = on_disk(model_dir) | ran
    shown: dict[tuple[str, str], dict[str, Any]] = {}
    specs: dict[str, TaskSpec] = {}
    for (task, mode), scores in found.items():
        if mode == "oracle":
            continue
        if task not in reg:
            shown[(task, mode)] = stale(scores, f"task {task} is no longer registered")
            continue
        spec = reg.get(task)
        specs[task] = spec
        if (task, mode) in ran:
            shown[(task, mode)] = scores
            continue
        config_hash, setup_hash = expected_hash(spec, mode)
        if mode == "gen" and mode not in modes:
            ok = scores.get("setup_hash") == setup_hash
        else:
            ok = scores.get("config_hash") == config_hash
        shown[(task, mode)] = scores if ok else stale(
            scores, "written by another config (model, revision, instructions, limit, runtime or umeval); "
                    "re-run this task to replace it")
    due = []
    for task, spec in specs.items():
        disc, gen = shown.get((task, "disc")), shown.get((task, "gen"))
        if disc and gen and disc.get("status") == "ok" and gen.get("status") == "ok":
            due.append((spec, disc, gen))
        elif (task, "oracle") in found:
            shown[(task, "oracle")] = stale(found[(task, "oracle")], "its disc or gen result is not current")
    return BoardView(scores=shown, specs=list(specs.values()), oracle_inputs=due)
