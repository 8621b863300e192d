"""Result files: per-task scores and per-query tables, and the Parquet leaderboard with roll-ups.

Layout under ``output_dir``::

    <model>/tasks/<task>/<mode>/scores.json     metric means, counts, provenance, fingerprint
    <model>/tasks/<task>/<mode>/per_query.parquet  per-query metrics and top-k (ids, scores, tie flag)
    <model>/leaderboard.parquet                  one row per (task, mode, metric) + roll-ups
    <model>/run.json                             the run record (config, tasks, provenance)
    leaderboard.parquet                          every model's leaderboard together

Every file is written to a temporary name in the same folder and renamed, so a reader (or a killed run)
never sees half a file.  Roll-ups are unweighted means of the tasks' main scores per meta-category, per
modality and overall ("All", the plain mean over tasks, as MMEB-V2 reports it).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import umeval
from umeval.core.errors import UmevalError
from umeval.core.registry import REPO_ROOT
from umeval.core.timing import timed

#: Bump when a leaderboard column is added, removed or retyped (recorded per row and in the file's metadata).
SCHEMA_VERSION = 2

#: Provenance of the run that produced a row: how the encoder ran, the libraries, what was resolved.
RUNTIME_COLUMNS = [
    "backend", "device", "dtype", "attn_implementation", "torch_version", "transformers_version", "vllm_version",
    "faiss_version", "model_revision_resolved",
]

_STR, _INT = pa.string(), pa.int64()
#: One fixed schema for every leaderboard (disc-only, gen, several models): a column is typed even when all
#: its values are null, so files from different runs concatenate (pyarrow, duckdb) without union_by_name.
LEADERBOARD_SCHEMA = pa.schema(
    [(c, _STR) for c in ("model", "mode", "level", "name", "task", "metric")]
    + [("value", pa.float64()), ("is_main", pa.bool_())]
    + [(c, _STR) for c in ("modality", "meta", "benchmark")]
    + [(c, _INT) for c in ("n_tasks", "n_tasks_expected", "n_queries", "n_tied")]
    + [(c, _STR) for c in ("status", "error", "instruction_set", "decoding", "model_options", "store_dtype",
                           "umeval_version",
                           "git_commit", "model_id", "model_revision", "dataset_revision", "data_version",
                           "config_hash",
                           "timestamp", "data_fingerprint", *RUNTIME_COLUMNS)]
    + [("schema_version", pa.int32())],
    metadata={"umeval_leaderboard_schema": str(SCHEMA_VERSION)},
)
LEADERBOARD_COLUMNS = LEADERBOARD_SCHEMA.names


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary path next to ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; results are as readable as any new file
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a full disk, a read-only folder: the old file (if any) stays as it was
        raise UmevalError(f"cannot write {path} ({e.strerror or e})",
                          "free disk space or choose another output_dir=; finished results are kept") from None
    finally:
        tmp.unlink(missing_ok=True)


def check_writable(folder: Path) -> None:
    """Fail in one line unless results can be written under ``folder`` (checked before any data or weights load).

    Nothing is created: the nearest existing folder on the way is probed with a temporary file, removed at once,
    so a read-only (or read-only-mounted) output folder stops the run before it encodes anything.
    """
    probe = Path(folder).expanduser().absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    fix = "choose a writable output_dir= (or fix the folder's permissions)"
    if not probe.is_dir():
        raise UmevalError(f"output_dir {folder} cannot be created: {probe} is a file", fix)
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise UmevalError(f"output_dir {folder} is not writable ({probe}: {e.strerror or e})", fix) from None


def current_umask() -> int:
    """The process umask (read by setting it and putting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@timed("write")
def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str)))


@timed("write")
def write_parquet(path: Path, df: pd.DataFrame) -> None:
    atomic_write(path, lambda p: df.to_parquet(p, index=False))


@timed("write")
def write_leaderboard(path: Path, df: pd.DataFrame) -> None:
    """Write a leaderboard under :data:`LEADERBOARD_SCHEMA` (every column typed, nulls included)."""
    table = to_arrow(df)
    import pyarrow.parquet as pq

    atomic_write(path, lambda p: pq.write_table(table, p))


def to_arrow(df: pd.DataFrame) -> pa.Table:
    df = conform(df)
    return pa.Table.from_pandas(df, schema=LEADERBOARD_SCHEMA, preserve_index=False)


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with exactly the leaderboard columns (missing ones null) and the current schema version."""
    df = df.copy()
    for c in LEADERBOARD_COLUMNS:
        if c not in df:
            df[c] = None
    df["schema_version"] = SCHEMA_VERSION
    df = df[LEADERBOARD_COLUMNS]
    for c in ("n_tasks", "n_tasks_expected", "n_queries", "n_tied"):
        df[c] = pd.to_numeric(df[c]).fillna(0).astype("int64")
    df["value"] = pd.to_numeric(df["value"]).astype("float64")
    df["is_main"] = df["is_main"].fillna(False).astype(bool)
    strings = [f.name for f in LEADERBOARD_SCHEMA if f.type == pa.string()]
    df[strings] = df[strings].astype(object).where(df[strings].notna(), None)
    return df


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def stamp(**kw: Any) -> dict[str, Any]:
    """``kw`` stamped with who wrote it and when: umeval version, git commit, UTC timestamp."""
    return {"umeval_version": umeval.__version__, "git_commit": git_commit(),
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), **kw}


def task_dir(output_dir: Path, model: str, task: str, mode: str) -> Path:
    return output_dir / model / "tasks" / task / mode


# ---------------------------------------------------------------- leaderboard

def task_rows(scores: dict[str, Any]) -> list[dict[str, Any]]:
    """Leaderboard rows of one task/mode from its ``scores.json`` content (one row per metric)."""
    base = {k: scores.get(k) for k in LEADERBOARD_COLUMNS if k in scores}
    base.update(level="task", name=scores["task"], n_tasks=1, n_tasks_expected=1)
    if scores.get("status") == "failed":
        return [{**base, "metric": scores["main_metric"], "value": np.nan, "is_main": True}]
    return [{**base, "metric": m, "value": float(v), "is_main": m == scores["main_metric"]}
            for m, v in scores["metrics"].items()]


def rollups(task_df: pd.DataFrame, expected: dict[str, dict[str, int]] | None = None,
            expected_by_benchmark: dict[str, dict[str, dict[str, int]]] | None = None) -> pd.DataFrame:
    """Unweighted means of task scores per (model, mode) and meta-category, modality, and overall.

    Rolled up: the main score (metric "main"; for gen the mean over samples, i.e. pass@1) and every pass@k a
    task reports.  Only tasks with status "ok" are averaged: a failed task (NaN value) or a stale one (its
    result came from an older config) is left out, and the roll-up says so: ``n_tasks`` counts the tasks
    averaged, ``n_tasks_expected`` the tasks that should have been, and ``status`` is "incomplete" when they
    differ.  ``expected`` maps level -> group name -> task count (e.g. the full benchmark's counts);
    ``expected_by_benchmark`` holds such a map per benchmark.  Tasks of different benchmarks (the ``mini``
    demo and MMEB-V2 under one model) are never averaged together: with more than one benchmark in a
    (model, mode), every roll-up name gets the benchmark in brackets ("All (mini)").
    """
    tasks = task_df[task_df["level"] == "task"]
    out = []
    carry = ["instruction_set", "decoding", "model_options", "store_dtype", "umeval_version", "git_commit", "model_id",
             "model_revision",
             "config_hash", "timestamp", "benchmark", *RUNTIME_COLUMNS]
    tasks = tasks.assign(_bench=tasks["benchmark"].fillna("").astype(str))
    for (model, mode), by_mode in tasks.groupby(["model", "mode"], sort=False):
        benches = list(dict.fromkeys(by_mode["_bench"]))
        for bench in benches:
            g = by_mode[by_mode["_bench"] == bench]
            suffix = f" ({bench or 'no benchmark'})" if len(benches) > 1 else ""
            exp = (expected_by_benchmark or {}).get(bench, expected)
            main = g[g["is_main"]]
            passk = sorted({m for m in g["metric"] if str(m).startswith("pass@")}, key=lambda m: int(m[5:]))
            for metric in ["main", *passk]:
                rows = main
                if metric != "main":  # a task without this pass@k (fewer samples) is not averaged in
                    rows = main.assign(value=main["task"].map(g[g["metric"] == metric].set_index("task")["value"]))
                out += _rollup_rows(model, mode, metric, rows, exp, carry, suffix)
    return pd.DataFrame(out)


def _rollup_rows(model: str, mode: str, metric: str, g: pd.DataFrame, expected: dict[str, dict[str, int]] | None,
                 carry: list[str], suffix: str = "") -> list[dict[str, Any]]:
    out = []
    for level, key in (("meta", "meta"), ("modality", "modality"), ("overall", None)):
        groups = g.groupby(key, sort=False) if key else [("All", g)]
        for name, sub in groups:
            ok = sub["value"].notna() & (sub["status"] == "ok")
            n_exp = (expected or {}).get(level, {}).get(str(name), len(sub))
            first = sub[ok].iloc[0] if ok.any() else sub.iloc[0]
            out.append({
                "model": model, "mode": mode, "level": level, "name": f"{name}{suffix}", "task": None,
                "metric": metric,
                "value": float(sub.loc[ok, "value"].mean()) if ok.any() else np.nan, "is_main": metric == "main",
                "modality": first["modality"] if level != "overall" else None,
                "meta": name if level == "meta" else None,
                "n_tasks": int(ok.sum()), "n_tasks_expected": int(n_exp),
                "n_queries": int(sub.loc[ok, "n_queries"].fillna(0).sum()),
                "n_tied": int(sub.loc[ok, "n_tied"].fillna(0).sum()),
                "status": "ok" if ok.all() and int(ok.sum()) == n_exp else "incomplete", "error": None,
                **{c: first.get(c) for c in carry},
            })
    return out


def leaderboard(scores: Iterable[dict[str, Any]], expected: dict[str, dict[str, int]] | None = None,
                expected_by_benchmark: dict[str, dict[str, dict[str, int]]] | None = None) -> pd.DataFrame:
    rows = [r for s in scores for r in task_rows(s)]
    df = pd.DataFrame(rows)
    if df.empty:
        return conform(pd.DataFrame(columns=LEADERBOARD_COLUMNS))
    df = conform(pd.concat([df, rollups(df, expected, expected_by_benchmark)], ignore_index=True))
    # A stable row order, whatever order the scores came in (fresh or read back from scores.json).
    level_rank = df["level"].map({"task": 0, "meta": 1, "modality": 2, "overall": 3})
    df = df.assign(_l=level_rank).sort_values(["model", "_l", "name", "mode", "metric"], kind="stable")
    return df.drop(columns="_l").reset_index(drop=True)


def merge_all(output_dir: Path) -> pd.DataFrame:
    """Every model's leaderboard under ``output_dir`` as one table (written to ``leaderboard.parquet``)."""
    parts = [conform(pd.read_parquet(p)) for p in sorted(output_dir.glob("*/leaderboard.parquet"))]
    df = pd.concat(parts, ignore_index=True) if parts else conform(pd.DataFrame(columns=LEADERBOARD_COLUMNS))
    write_leaderboard(output_dir / "leaderboard.parquet", df)
    return df
