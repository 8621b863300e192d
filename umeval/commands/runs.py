"""``umeval show RESULTS --runs``: the run history of each model folder, newest last.

One row per command (when, which command, its status, tasks run / reused / failed, items encoded, wall time
and the wall time of each stage), followed by one indented row per task it ran, with that task's times.  The
records are those of :mod:`umeval.run.history`; ``--format json`` prints them as they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from umeval.core.errors import DataError
from umeval.core.timing import NO_TASK, STAGES
from umeval.run.history import read_runs


def model_dirs(paths: list[str]) -> list[Path]:
    """The model folders (those with a ``runs/`` folder) at or directly under each path."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise DataError(f"result folder {p} does not exist", "pass an output_dir of `umeval run`, e.g. results/")
        found = [p] if (p / "runs").is_dir() else sorted(d for d in p.iterdir() if (d / "runs").is_dir())
        if not found:
            raise DataError(f"no run history (runs/) under {p}",
                            "pass an output_dir of `umeval run` or a model folder in it; commands record their "
                            "runs there since umeval 0.1")
        out += found
    return out


def _secs(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _stage_cells(stages: dict[str, Any]) -> list[str]:
    return [_secs(stages[s]["wall_s"]) if s in stages else "" for s in STAGES]


def runs_table(records: list[dict[str, Any]], title: str, tasks: bool = True) -> Table:
    table = Table(title=title)
    for c in ("started", "command", "status", "task", "ran/reused/failed", "encoded", "wall s", "cpu s",
              *(f"{s} s" for s in STAGES), "gpu s"):
        table.add_column(c, overflow="fold")
    for r in records:
        timing = r.get("timing") or {}
        stages = timing.get("stages") or {}
        ran = [t for t in r.get("task_timing") or [] if t.get("task") != NO_TASK and t.get("stages")]
        gpu = [v["gpu_s"] for v in stages.values() if v.get("gpu_s") is not None]
        status = r.get("status", "")
        if r.get("error"):
            status += f": {r['error']}"
        counts = f"{len(ran)}/{len(r.get('reused') or [])}/{len(r.get('failed') or [])}"
        table.add_row(str(r.get("started", "")).replace("+00:00", "Z"), str(r.get("command", "")), status,
                      f"{len(r.get('tasks') or [])} task(s), mode {r.get('mode', '')}", counts,
                      str(r.get("encoder_calls", "")), _secs(timing.get("wall_s")), _secs(timing.get("cpu_s")),
                      *_stage_cells(stages), _secs(sum(gpu)) if gpu else "")
        if tasks:
            for t in ran:
                label = f"{t['task']}/{t['mode']}" if t.get("mode") else str(t["task"])
                tg = [v["gpu_s"] for v in t["stages"].values() if v.get("gpu_s") is not None]
                table.add_row("", "", "", f"  {label}", "", str(t.get("encoded", "")), _secs(t.get("wall_s")), "",
                              *_stage_cells(t["stages"]), _secs(sum(tg)) if tg else "")
    return table


def show_runs(folders: list[str], fmt: str = "table", last: int = 10) -> int:
    dirs = model_dirs(folders)
    records = {d: read_runs(d)[-last:] if last > 0 else read_runs(d) for d in dirs}
    if fmt == "json":
        sys.stdout.write(json.dumps({str(d): r for d, r in records.items()}, indent=2) + "\n")
        return 0
    from umeval.commands.help import console

    out = console()
    for d, recs in records.items():
        out.print(runs_table(recs, f"runs of {d.name} ({d}), last {len(recs)}"))
    return 0
