"""Run history: one JSON record per command under ``<output_dir>/<model>/runs/``, never overwritten.

``run.json`` holds the last command only; the history keeps every one (``umeval run``, the merge of ``umeval
launch`` and each of its shards, ``umeval selftest``, :func:`umeval.evaluate`): what was asked (config, tasks,
modes), what happened (items sent to the encoder, which tasks ran, were reused or failed, the error that stopped
it) and where the time went (per task and mode, and per stage: :mod:`umeval.core.timing`).  ``umeval show --runs``
lists them.

A file is named ``<UTC start>-<command>-<pid>-<random>.json`` (sortable by time; two processes never pick the
same name) and written atomically.  A command stopped by bad input before it wrote anything leaves no record
(no folder is created for it); one that fails later, or is interrupted, records how far it got.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from umeval.core.config import to_dict
from umeval.core.timing import Timer, activate

#: Bump when a field of a run record is removed, renamed or changes meaning.
RECORD_VERSION = 1


def runs_dir(output_dir: Path | str, model: str) -> Path:
    return Path(output_dir) / model / "runs"


@dataclass
class RunRecord:
    """A command in progress: its clocks, and what the caller learns by its end (:attr:`summary`)."""

    command: str
    cfg: DictConfig
    started: datetime
    timer: Timer = field(default_factory=Timer)
    summary: Any = None  # the RunSummary of umeval.run.runner.run, once it returned
    argv: list[str] | None = None

    def to_json(self, status: str, error: str | None) -> dict[str, Any]:
        from umeval.core.registry import resolve_tasks
        from umeval.results.files import stamp

        cfg = self.cfg
        try:
            tasks = [s.name for s in resolve_tasks(cfg.task)]
        except Exception:  # the record of a failed command must not fail on the task list
            tasks = [str(cfg.task)]
        s = self.summary
        ran = {k for k, c in self.timer.tasks.items() if c.stages}
        failed = list(getattr(s, "failed", None) or [])
        # Results this command found finished and fresh (the oracle rows are derived, not run).
        rows = getattr(s, "scores", None) or []
        reused = sorted({f"{r['task']}/{r['mode']}" for r in rows if r.get("mode") != "oracle" and r["task"] in tasks}
                        - ran - set(failed))
        return {
            "record_version": RECORD_VERSION,
            "command": self.command,
            "argv": self.argv if self.argv is not None else sys.argv[1:],
            "status": status,
            "error": error,
            "started": self.started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": str(cfg.model.name),
            "shard": cfg.get("shard"),
            "tasks": tasks,
            "mode": str(cfg.mode),
            "encoder_calls": int(getattr(s, "encoder_calls", 0) or sum(c.encoded for c in self.timer.tasks.values())),
            "failed": failed,
            "reused": reused,
            "timing": self.timer.totals(),
            "task_timing": self.timer.task_rows(),
            "config": to_dict(cfg),
            **stamp(),
        }


def write_record(path: Path, record: dict[str, Any]) -> None:
    from umeval.results.files import write_json

    write_json(path, record)


@contextlib.contextmanager
def recording(cfg: DictConfig, command: str, argv: list[str] | None = None) -> Iterator[RunRecord]:
    """Time the ``with`` block as command ``command`` and append its record to the model's history.

    The caller sets ``record.summary`` to what :func:`umeval.run.runner.run` returned.
    """
    rec = RunRecord(command=command, cfg=cfg, started=datetime.now(UTC), argv=argv)
    model_dir = Path(cfg.output_dir) / str(cfg.model.name)
    name = f"{rec.started.strftime('%Y%m%dT%H%M%S.%f')}-{command}-{os.getpid()}-{uuid.uuid4().hex[:6]}.json"
    status, error = "ok", None
    try:
        with activate(rec.timer):
            yield rec
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted"
        raise
    except BaseException as e:
        status, error = "failed", " ".join(str(e).split()) or type(e).__name__
        raise
    finally:
        # Bad input fails before anything is written: no folder is made just to say so.
        if status == "ok" or model_dir.is_dir():
            write_record(runs_dir(cfg.output_dir, str(cfg.model.name)) / name, rec.to_json(status, error))


def read_runs(model_dir: Path) -> list[dict[str, Any]]:
    """The run records of one model folder, oldest first; unreadable files are skipped (named in ``file``)."""
    out = []
    for p in sorted((Path(model_dir) / "runs").glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d, dict) and "command" in d:
            out.append(d | {"file": str(p)})
    return out
