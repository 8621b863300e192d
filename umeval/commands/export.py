"""``umeval export <result folder(s)> --format mmeb-v2|csv|markdown|json -o PATH``: results in shareable formats.

Result folders are read from disk (every ``scores.json`` below them), so a finished run never has to be rerun:
an ``output_dir`` (all its models), one model's folder, or a task folder all work.

``mmeb-v2`` writes, per model, the layout that the official leaderboard script of MMEB-V2
(``experiments/report_score_v2.py`` of TIGER-AI-Lab/VLM2Vec) reads and the JSON it writes::

    <DIR>/<model>/image/<Task>_score.json     one official score dict per task (image, video, visdoc)
    <DIR>/<model>/<model_name>.json            {"metadata": {...}, "metrics": {"image": {task: dict}, ...}}

A score dict has the official keys in the official order (hit, ndcg_linear, ndcg_exponential, precision,
recall, f1, map, mrr at 1, 5 and 10) and the counts ``num_pred`` and ``num_data``.  In the combined JSON every
task of the benchmark is listed; one without results is the string ``"FILE_N/A"`` as in the official script,
and the visdoc tasks ``MMLongBench-page`` and ``ViDoSeek-page`` carry its ``-fixed`` suffix.

``csv`` and ``markdown`` write one wide table (:func:`wide_table`): tasks as rows, then meta-category,
modality and overall rows; one column per model and mode (disc, gen, oracle) and per pass@k of sampled runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from umeval.core.errors import DataError, UmevalError
from umeval.results.task_result import TaskResult
from umeval.scoring.metrics import OFFICIAL

MODALITIES = ("image", "video", "visdoc")
#: The official script's main metric per modality (its per-modality averages use these).
MODALITY_METRIC = {"image": "hit@1", "video": "hit@1", "visdoc": "ndcg_linear@5"}
#: Keys of the official combined JSON that carry a suffix there ("temp fix" in the official script).
FIXED_SUFFIX = ("MMLongBench-page", "ViDoSeek-page")
MODE_ORDER = ("disc", "gen", "oracle")

METADATA_KEYS = ("model_name", "model_backbone", "model_size", "embedding_dimension", "max_length_tokens",
                 "model_release_date", "data_source", "url")


# ---------------------------------------------------------------- reading results

@dataclass
class ResultSet:
    """Every task result found under some folders: one ``scores.json`` content per (model, task, mode)."""

    scores: list[dict[str, Any]]
    folders: dict[str, Path]  # model -> its result folder (``<output_dir>/<model>``)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(s["model"] for s in self.scores))

    def of(self, model: str | None = None, mode: str | None = None) -> list[dict[str, Any]]:
        return [s for s in self.scores
                if (model is None or s["model"] == model) and (mode is None or s["mode"] == mode)]

    def modes(self, model: str | None = None) -> list[str]:
        present = {s["mode"] for s in self.of(model)}
        return [m for m in MODE_ORDER if m in present] + sorted(present - set(MODE_ORDER))


def load_results(paths: Sequence[str | Path]) -> ResultSet:
    """Read every ``scores.json`` under ``paths``; a path with none is a one-line error.

    Several folders never merge silently: a model found under more than one of ``paths`` (``umeval report
    results/base results/new``) becomes one model per folder, named ``<model> (<folder>)`` as the folder was given,
    so every table shows both sides (the first folder is the baseline of deltas).
    """
    per_path: list[tuple[Path, dict[tuple[str, str, str], dict[str, Any]], dict[str, Path]]] = []
    for p in map(Path, paths):
        if not p.exists():
            raise DataError(f"result folder {p} does not exist", "pass an output_dir of `umeval run`, e.g. results/")
        # Full results before partial ones (``partial/<key>/``): the first model found is the baseline.
        files = [p] if p.is_file() else sorted(p.rglob("scores.json"),
                                                key=lambda f: (f.relative_to(p).parts[0] == "partial", f))
        found: dict[tuple[str, str, str], dict[str, Any]] = {}
        folders: dict[str, Path] = {}
        for f in files:
            try:
                raw = json.loads(f.read_text())
            except (OSError, ValueError) as e:
                raise DataError(f"cannot read {f} ({e})", "rerun the task or delete the file") from None
            if not isinstance(raw, dict) or not {"task", "mode", "model"} <= set(raw):
                continue
            s = TaskResult.from_dict(raw, f).to_row()  # any schema version, as the flat view
            found[(s["model"], s["task"], s["mode"])] = s
            # <output_dir>/<model>/tasks/<task>/<mode>/scores.json
            folders.setdefault(s["model"], f.parents[3] if len(f.parents) > 3 else f.parent)
        if not found:
            raise DataError(f"no results (scores.json) under {p}",
                            "pass an output_dir of `umeval run` (e.g. results/) or a model folder in it")
        per_path.append((p, found, folders))
    where: dict[str, list[Path]] = {}
    for p, _, folders in per_path:
        for model in folders:
            where.setdefault(model, []).append(p)
    scores: list[dict[str, Any]] = []
    all_folders: dict[str, Path] = {}
    for p, found, folders in per_path:
        marked = _mark_stale(found, folders)
        for s in marked:
            if len(where[s["model"]]) > 1:
                s = {**s, "model": f"{s['model']} ({p})"}
            scores.append(s)
        for model, folder in folders.items():
            all_folders[f"{model} ({p})" if len(where[model]) > 1 else model] = folder
    return ResultSet(scores=_in_task_order(scores), folders=all_folders)


def _mark_stale(found: dict[tuple[str, str, str], dict[str, Any]],
                folders: dict[str, Path]) -> list[dict[str, Any]]:
    """Results the model's rebuilt leaderboard marks ``stale`` (an older config of the task) get that status here.

    ``umeval run`` rebuilds ``<model>/leaderboard.parquet`` from disk and knows which results its config would no
    longer produce; a ``scores.json`` alone does not say so.  Without this, ``show``/``export``/``report`` would
    put a stale score back into roll-ups and exports.
    """
    import pandas as pd

    stale: dict[tuple[str, str, str], str] = {}
    for model, folder in folders.items():
        board = folder / "leaderboard.parquet"
        if not board.is_file():
            continue
        df = pd.read_parquet(board, columns=["level", "task", "mode", "status", "error"])
        for row in df[(df["level"] == "task") & (df["status"] == "stale")].itertuples():
            stale[(model, str(row.task), str(row.mode))] = str(row.error or "stale")
    return [{**s, "status": "stale", "error": stale[key]} if key in stale else s for key, s in found.items()]


def _task_order() -> dict[str, int]:
    from umeval.core.registry import discover_tasks

    return {name: i for i, (name, _) in enumerate(discover_tasks().items())}


def _in_task_order(scores: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Models in the order they were found (the folders' order: the first is the baseline).

    Then tasks in registry order, then modes.
    """
    scores = list(scores)
    order = _task_order()
    model_rank = {m: i for i, m in enumerate(dict.fromkeys(s["model"] for s in scores))}
    mode_rank = {m: i for i, m in enumerate(MODE_ORDER)}
    return sorted(scores, key=lambda s: (model_rank[s["model"]], order.get(s["task"], len(order)), s["task"],
                                         mode_rank.get(s["mode"], 9), s["mode"]))


# ---------------------------------------------------------------- mmeb-v2

def official_score_dict(scores: dict[str, Any]) -> dict[str, Any]:
    """The official per-task score dict: the official metric keys in order, then ``num_pred`` and ``num_data``."""
    metrics = scores.get("metrics") or {}
    missing = [k for k in OFFICIAL if k not in metrics]
    if missing:
        raise DataError(f"{scores['model']}/{scores['task']}/{scores['mode']} has no {', '.join(missing[:3])}"
                        + (f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""),
                        "rerun it with this umeval version (stored embeddings are reused, only scoring reruns)")
    out: dict[str, Any] = {k: float(metrics[k]) for k in OFFICIAL}
    out["num_pred"] = int(scores.get("n_queries", 0))
    out["num_data"] = int(scores.get("n_queries", 0))
    return out


def benchmark_tasks(benchmark: str) -> dict[str, list[str]]:
    """Modality -> the benchmark's task names in registry order (the official order for MMEB-V2)."""
    from umeval.core.registry import discover_tasks

    out: dict[str, list[str]] = {m: [] for m in MODALITIES}
    for name, spec in discover_tasks().items():
        if spec.benchmark == benchmark:
            out.setdefault(spec.modality, []).append(name)
    return out


def model_metadata(model: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The leaderboard's questions about ``model`` (a preset name): its family's card of that checkpoint."""
    from umeval.models.family import model_card

    card = model_card(model)
    meta: dict[str, Any] = {k: None for k in METADATA_KEYS}
    meta.update({"model_name": model, "data_source": "Self-Reported"}, **(card.metadata() if card else {}))
    meta.update(overrides or {})
    return meta


def default_mode(rs: ResultSet, model: str) -> str:
    """The mode a model's leaderboard entry reports: gen when it was run, else disc."""
    modes = [m for m in rs.modes(model) if m != "oracle"]
    if not modes:
        raise DataError(f"{model} has only oracle results", "export mode=disc or mode=gen results")
    return "gen" if "gen" in modes else modes[0]


def write_mmeb_v2(rs: ResultSet, out_dir: Path, *, mode: str | None = None,
                  metadata: dict[str, Any] | None = None, allow_partial: bool = False) -> list[Path]:
    """Write each model's per-task score files and combined JSON; returns the combined JSON paths.

    Results of a partial run (``limit=``, :mod:`umeval.results.partial`) are refused unless ``allow_partial``: a
    submission file must not hold scores over the first N queries.
    """
    partial = sorted({f"{s['model']}" for s in rs.scores if s.get("partial")})
    if partial and not allow_partial:
        raise UmevalError(f"{', '.join(partial)}: results of a partial run (limit=), not of whole tasks",
                          "export the model folder of the full run (e.g. results/<model>), or pass --allow-partial")
    written = []
    for model in rs.models:
        m = mode or default_mode(rs, model)
        if m == "oracle":
            raise UmevalError("oracle rows hold only the main metric, not the official score dict",
                              "export --mode disc or --mode gen")
        rows = [s for s in rs.of(model, m) if s.get("status") == "ok"]
        if not rows:
            raise DataError(f"{model} has no finished {m} results", f"pass --mode with one of {rs.modes(model)}")
        base = out_dir / model
        meta = model_metadata(model, metadata)
        # One benchmark per file: MMEB-V2 when the model has it (the mini demo beside it is left out), else the one.
        benchmarks = list(dict.fromkeys(s.get("benchmark") or "MMEB-V2" for s in rows))
        bench = "MMEB-V2" if "MMEB-V2" in benchmarks else benchmarks[0]
        if len(benchmarks) > 1:
            print(f"{model}: exporting its {bench} results; left out: "
                  f"{', '.join(b for b in benchmarks if b != bench)} (another benchmark)", file=sys.stderr)
        rows = [s for s in rows if (s.get("benchmark") or "MMEB-V2") == bench]
        metrics: dict[str, dict[str, Any]] = {mod: {} for mod in MODALITIES}
        for modality, names in benchmark_tasks(bench).items():
            for name in names:
                metrics.setdefault(modality, {})[name] = "FILE_N/A"
        for s in rows:
            d = official_score_dict(s)
            _write_json_ordered(base / s["modality"] / f"{s['task']}_score.json", d)
            metrics.setdefault(s["modality"], {})[s["task"]] = d
        metrics["visdoc"] = {(f"{k}-fixed" if k in FIXED_SUFFIX else k): v for k, v in metrics["visdoc"].items()}
        meta["report_generated_date"] = datetime.now().isoformat()
        path = base / f"{meta['model_name']}.json"
        _write_json_ordered(path, {"metadata": meta, "metrics": metrics})
        written.append(path)
    return written


def _write_json_ordered(path: Path, obj: Any) -> None:
    """JSON with the keys in insertion order (the official file's order), written atomically."""
    from umeval.results.files import atomic_write

    atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=4)))


def modality_averages(base: Path) -> dict[str, float]:
    """Per modality, the mean main metric over an exported folder's ``<Task>_score.json`` files.

    This reads the export back as the official script does (its per-modality averages).
    """
    out = {}
    for modality in MODALITIES:
        files = sorted((base / modality).glob("*_score.json"))
        vals = [json.loads(f.read_text())[MODALITY_METRIC[modality]] for f in files]
        if vals:
            out[modality] = sum(vals) / len(vals)
    return out


# ---------------------------------------------------------------- wide table

def _passk_cols(metrics: dict[str, Any]) -> list[str]:
    return sorted((k for k in metrics if k.startswith("pass@")), key=lambda k: int(k.split("@")[1]))


def wide_table(rs: ResultSet) -> pd.DataFrame:
    """Tasks as rows, then meta-category, modality and overall roll-ups.

    One column per model/mode main score and per pass@k.  Roll-ups are unweighted means over the tasks that
    have a value; ``tasks`` counts them.
    """
    multi = len(rs.models) > 1
    rows: dict[str, dict[str, Any]] = {}
    columns: list[str] = []  # model/mode main scores first, then pass@k
    passk: list[str] = []
    for s in rs.scores:
        r = rows.setdefault(s["task"], {"level": "task", "name": s["task"], "modality": s.get("modality"),
                                        "meta": s.get("meta"), "benchmark": s.get("benchmark") or "",
                                        "metric": s.get("main_metric"), "n_queries": 0, "n_tied": 0, "failed": ""})
        prefix = f"{s['model']} " if multi else ""
        col = prefix + s["mode"]
        if col not in columns:
            columns.append(col)
        metrics = s.get("metrics") or {}
        ok = s.get("status") == "ok"
        r[col] = float(metrics.get(s["main_metric"], float("nan"))) if ok else float("nan")
        if not ok:
            r["failed"] = ", ".join(filter(None, [r["failed"], col]))
        for pk in _passk_cols(metrics) if s["mode"] == "gen" else []:
            c = f"{prefix}gen {pk}"
            if c not in passk:
                passk.append(c)
            r[c] = float(metrics[pk])
        if s["mode"] != "oracle":
            r["n_queries"] = max(r["n_queries"], int(s.get("n_queries") or 0))
            r["n_tied"] = max(r["n_tied"], int(s.get("n_tied") or 0))
    tasks = pd.DataFrame(list(rows.values()))
    if tasks.empty:
        return tasks
    columns += passk
    for c in columns:
        if c not in tasks:
            tasks[c] = float("nan")
    tasks["tasks"] = 1
    tasks["status"] = ["incomplete" if f else "ok" for f in tasks["failed"]]
    parts = [tasks]
    benches = list(dict.fromkeys(tasks["benchmark"]))
    for bench in benches:  # never averaged across benchmarks (the mini demo beside MMEB-V2)
        sub = tasks[tasks["benchmark"] == bench]
        suffix = f" ({bench or 'no benchmark'})" if len(benches) > 1 else ""
        expected = _expected_counts(bench)
        for level, key in (("meta", "meta"), ("modality", "modality"), ("overall", None)):
            groups = sub.groupby(key, sort=False) if key else [("All", sub)]
            roll = []
            for name, g in groups:
                n_exp = expected.get(level, {}).get(str(name), len(g))
                short = [c for c in columns if int(g[c].notna().sum()) < n_exp]
                roll.append({"level": level, "name": f"{name}{suffix}",
                             "modality": g["modality"].iloc[0] if key else None,
                             "meta": name if level == "meta" else None, "benchmark": bench, "metric": "main",
                             "n_queries": int(g["n_queries"].sum()), "n_tied": int(g["n_tied"].sum()),
                             "failed": _count_failed(g["failed"]), "tasks": len(g),
                             "status": f"incomplete ({len(g)} of {n_exp} tasks)" if len(g) < n_exp else
                             ("incomplete (" + ", ".join(short) + ")" if short else "ok"),
                             **{c: g[c].mean() for c in columns}})
            parts.append(pd.DataFrame(roll))
    out = pd.concat(parts, ignore_index=True)
    return out[["level", "name", "metric", *columns, "tasks", "n_queries", "n_tied", "failed", "status"]]


def _expected_counts(benchmark: str) -> dict[str, dict[str, int]]:
    """Task counts per roll-up group of the whole ``benchmark`` (its registered tasks)."""
    from umeval.core.registry import discover_tasks
    from umeval.results.expected import expected_counts

    specs = [spec for _, spec in discover_tasks().items() if spec.benchmark == benchmark]
    return expected_counts(specs) if specs else {}


def _count_failed(flags: pd.Series) -> str:
    n = int(sum(bool(f) for f in flags))
    return f"{n} task{'s' * (n != 1)}" if n else ""


def value_columns(table: pd.DataFrame) -> list[str]:
    fixed = {"level", "name", "metric", "tasks", "n_queries", "n_tied", "failed", "modality", "meta", "benchmark",
             "status"}
    return [c for c in table.columns if c not in fixed]


def to_markdown(table: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown; scores x100 with one decimal, ``-`` where absent."""
    cols = list(table.columns)
    vals = set(value_columns(table))
    right = vals | {"tasks", "n_queries", "n_tied"}
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" if c in right else "---" for c in cols) + "|"]
    for _, r in table.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if c in vals:
                cells.append("-" if pd.isna(v) else f"{100 * v:.1f}")
            else:
                cells.append("" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render(rs: ResultSet, fmt: str) -> str:
    """The wide table as ``csv`` (scores in 0..1), ``markdown`` (x100) or ``json`` (records)."""
    table = wide_table(rs)
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "markdown":
        return to_markdown(table)
    if fmt == "json":
        return table.to_json(orient="records", indent=2)
    raise UmevalError(f"unknown format '{fmt}'", "use csv, markdown or json")


# ---------------------------------------------------------------- command

def _meta_arg(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or key not in METADATA_KEYS:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY one of {', '.join(METADATA_KEYS)}")
    return key, (int(value) if value.isdigit() else value or None)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="umeval export", description=(
        "Export finished results: --format mmeb-v2 writes the official per-task <Task>_score.json files and the "
        "leaderboard JSON per model under -o DIR; csv, markdown and json write one wide table (tasks x modes) "
        "to -o FILE or stdout."))
    p.add_argument("folders", nargs="+", metavar="RESULTS", help="result folders (an output_dir or a model folder)")
    p.add_argument("--format", "-f", default="mmeb-v2", choices=["mmeb-v2", "csv", "markdown", "json"])
    p.add_argument("-o", "--output", help="output folder (mmeb-v2) or file (default: stdout); required for mmeb-v2")
    p.add_argument("--mode", choices=["disc", "gen"], help="mmeb-v2: which mode is the model's entry "
                   "(default: gen when it was run, else disc)")
    p.add_argument("--allow-partial", action="store_true",
                   help="mmeb-v2: export results of partial runs (limit=) too; refused by default")
    p.add_argument("--meta", action="append", type=_meta_arg, default=[], metavar="KEY=VALUE",
                   help="mmeb-v2 metadata, e.g. --meta model_release_date=2025-11-01 "
                        f"(keys: {', '.join(METADATA_KEYS)})")
    return p


def main(args: list[str]) -> int:
    ns = parser().parse_args(args)
    rs = load_results(ns.folders)
    if ns.format == "mmeb-v2":
        if not ns.output:
            raise UmevalError("--format mmeb-v2 writes a folder", "pass -o DIR, e.g. -o export/")
        for path in write_mmeb_v2(rs, Path(ns.output), mode=ns.mode, metadata=dict(ns.meta),
                                  allow_partial=ns.allow_partial):
            print(f"wrote {path} and its per-task files under {path.parent}")
        return 0
    text = render(rs, ns.format)
    if ns.output:
        from umeval.results.files import atomic_write

        atomic_write(Path(ns.output), lambda p: p.write_text(text))
        print(f"wrote {ns.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
