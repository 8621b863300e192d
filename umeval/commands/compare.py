"""``umeval compare BASELINE CANDIDATE``: per-task and overall deltas with a paired bootstrap over queries.

Each side is a model's result folder (``<output_dir>/<model>``, the one holding ``leaderboard.parquet`` and
``tasks/``).  Every (task, mode) found on either side gets a row:

* on both sides and finished: the per-query main scores are paired by query id; the paired bootstrap
  (fixed seed) resamples the paired queries with replacement.  ``baseline`` and ``candidate`` are each
  side's own score over all of its queries (what its leaderboard says); the delta and its interval are over
  the paired queries.  When the query sets differ, the row says how many queries have no partner
  (``query mismatch``); beyond ``--query-tolerance`` (share of the union of query ids) that is a failure.
* missing, failed or incomplete (no per-query table) on the candidate side: a failure, unless
  ``--allow-missing``; present on the candidate side only: reported as ``new``.

One test decides and is reported: the two-sided (1 - alpha) percentile interval of the bootstrap deltas.
A task regresses when its delta is below ``-threshold`` points and the interval lies entirely below zero
(so a flagged interval never contains zero).  The overall row per mode resamples queries within each task
and averages the task means, as the leaderboard's "All" does; it is named "All" only when both sides hold
every task of the benchmark (all 78 for MMEB-V2), otherwise "shared (k of N)" and not comparable with a
published All.

A published **category** reference (authors who give only means per MMEB-V2 category, modality and overall)
is a baseline too: each of its categories is paired with the candidate's mean over that category's tasks
(unweighted, as the table's); a category whose tasks are not all finished on the candidate side is
``incomplete`` (a gap), since a mean over part of a category is not the published one.  No per-query scores:
no interval, never a regression.

With ``--fail-on-regression`` the command exits 1 on any regression, candidate-side gap or query mismatch
beyond tolerance, naming them.  ``--markdown`` writes one table ready to paste into a pull request,
regressions first.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from umeval.core.errors import DataError
from umeval.results.task_result import NotATaskResult, TaskResult

OVERALL = "All"
#: Row statuses that fail ``--fail-on-regression`` (gaps only without ``--allow-missing``).
FAILING = ("regression", "query mismatch")
GAPS = ("missing", "failed", "incomplete")
_ORDER = {"regression": 0, "failed": 1, "missing": 1, "incomplete": 1, "query mismatch": 2, "new": 3,
          "not comparable": 4, "ok": 5}


@dataclass
class SideResult:
    """One (task, mode) of one side: its status, per-query main scores (ok only) and benchmark."""

    status: str  # ok | failed | incomplete
    values: pd.Series | None = None  # per-query main score indexed by query id
    benchmark: str | None = None
    error: str | None = None
    mean: float | None = None  # a published reference: the task mean only (no per-query scores, no bootstrap)


@dataclass
class Delta:
    task: str
    mode: str
    n_queries: int  # paired queries
    baseline: float  # each side's own score, over all of its queries
    candidate: float
    delta_points: float  # over the paired queries, points
    ci_low: float  # (1 - alpha) two-sided percentile interval of the paired delta, points
    ci_high: float
    p_not_worse: float  # share of bootstrap deltas >= 0 (informative; the decision is the interval)
    regression: bool
    status: str = "ok"  # see _ORDER
    n_baseline: int = 0
    n_candidate: int = 0
    note: str = ""


def load_side(folder: Path) -> dict[tuple[str, str], SideResult]:
    """Every (task, mode) result of a model's folder (oracle rows are derived, not compared)."""
    folder = Path(folder)
    if folder.suffix == ".json" and folder.is_file():
        from umeval.results.reference import load_reference

        return {key: SideResult("ok", None, bench, None, mean) for key, (bench, mean) in load_reference(folder).items()}
    tasks = folder / "tasks"
    if not tasks.is_dir():
        raise DataError(f"{folder} has no tasks/ folder", "pass a model's result folder, e.g. results/<model>")
    out: dict[tuple[str, str], SideResult] = {}
    for scores_file in sorted(tasks.glob("*/*/scores.json")):
        try:
            scores = TaskResult.read(scores_file).to_row()
        except NotATaskResult:
            raise DataError("unreadable scores.json", "re-run the task", file=str(scores_file)) from None
        key = (str(scores["task"]), str(scores["mode"]))
        if key[1] == "oracle":
            continue
        bench = scores.get("benchmark")
        if scores.get("status") != "ok":
            out[key] = SideResult("failed", None, bench, scores.get("error"))
            continue
        pq = scores_file.parent / "per_query.parquet"
        m = scores["main_metric"]
        try:
            df = pd.read_parquet(pq, columns=["query_id", m])
        except Exception:  # missing or damaged table: the task did not finish writing
            out[key] = SideResult("incomplete", None, bench, f"no readable {pq.name}")
            continue
        if df["query_id"].duplicated().any():
            raise DataError("duplicate query ids", "re-run the task", file=str(pq))
        out[key] = SideResult("ok", df.set_index("query_id")[m].astype(float), bench)
    if not out:
        raise DataError(f"{folder} holds no finished task results", "run `umeval run` first")
    return out


def _as_result(x: SideResult | pd.Series) -> SideResult:
    return x if isinstance(x, SideResult) else SideResult("ok", x)


def compare(base: dict[tuple[str, str], SideResult], cand: dict[tuple[str, str], SideResult], *,
            threshold: float = 1.0, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
            query_tolerance: float = 0.0, expected: dict[str, int] | None = None) -> list[Delta]:
    """Rows for every (task, mode) on either side, then one overall row per mode.

    ``expected`` maps benchmark -> task count (the registry's, by default) for naming the overall row.
    """
    base = {k: _as_result(v) for k, v in base.items()}
    cand = {k: _as_result(v) for k, v in cand.items()}
    rng = np.random.default_rng(seed)
    rows: list[Delta] = []
    per_mode: dict[str, list[Paired]] = {}
    for key in sorted(set(base) | set(cand)):
        task, mode = key
        b, c = base.get(key), cand.get(key)
        if b is not None and b.mean is not None and c is not None and c.status == "ok" and c.values is not None:
            rows.append(_reference_delta(task, mode, b.mean, c.values))
            continue
        if b is not None and b.mean is not None:  # published, absent or unfinished on the candidate side: a gap
            status = "missing" if c is None else c.status
            rows.append(_gap(task, mode, status, b, c, (c.error or "") if c else
                             "in the reference, no result on the candidate side"))
            continue
        if b is None or b.status != "ok" or b.values is None:
            if c is not None and c.status == "ok" and c.values is not None:
                status = "new" if b is None else "not comparable"
                rows.append(_gap(task, mode, status, None, c, f"baseline {b.status if b else 'missing'}"))
            continue
        if c is None or c.status != "ok" or c.values is None:
            status = "missing" if c is None else c.status
            rows.append(_gap(task, mode, status, b, c, (c.error or "") if c else "no result on the candidate side"))
            continue
        bp, cp = b.values.align(c.values, join="inner")
        union = len(b.values.index.union(c.values.index))
        unpaired = union - len(bp)
        bv, cv = bp.to_numpy(), cp.to_numpy()
        if len(bv):
            idx = rng.integers(0, len(bv), size=(n_boot, len(bv)))
            boots = (cv - bv)[idx].mean(axis=1)
        else:
            boots = np.full(n_boot, np.nan)
        row = _delta(task, mode, float(b.values.mean()), float(c.values.mean()), float((cv - bv).mean())
                     if len(bv) else float("nan"), boots, len(bv), threshold, alpha)
        row.n_baseline, row.n_candidate = len(b.values), len(c.values)
        if unpaired:
            row.note = (f"{unpaired} of {union} queries on one side only "
                        f"(baseline {len(b.values)}, candidate {len(c.values)}); delta over the {len(bv)} paired")
            if unpaired / union > query_tolerance:
                row.status = "query mismatch"
        if row.regression:
            row.status = "regression"
        rows.append(row)
        if len(bv):
            per_mode.setdefault(mode, []).append(Paired(bv, cv, row.baseline, row.candidate, len(b.values),
                                                        len(c.values), row.status == "query mismatch"))
    rows += _overall(per_mode, base, cand, rng, n_boot, threshold, alpha, expected)
    rows += _reference_overall(rows, base)
    return sorted(rows, key=lambda r: (_ORDER.get(r.status, 9), r.task == OVERALL or r.task.startswith("shared"),
                                       r.task, r.mode))


def _reference_delta(task: str, mode: str, published: float, values: pd.Series) -> Delta:
    """A candidate task against a published task mean: the delta of the means, no interval, never a regression."""
    nan = float("nan")
    c = float(values.mean())
    return Delta(task, mode, 0, published, c, 100 * (c - published), nan, nan, nan, False, "ok", 0, len(values),
                 "baseline: published task mean (no per-query scores, no bootstrap)")


def _reference_overall(rows: list[Delta], base: dict[tuple[str, str], SideResult]) -> list[Delta]:
    """Per mode, the mean of the published and of the candidate task means over the tasks both sides have."""
    out = []
    nan = float("nan")
    for mode in sorted({r.mode for r in rows if r.note.startswith("baseline: published")}):
        ref = [r for r in rows if r.mode == mode and r.note.startswith("baseline: published")]
        total = sum(1 for (_, m), b in base.items() if m == mode and b.mean is not None)
        name = OVERALL if len(ref) == total else f"shared ({len(ref)} of {total})"
        b, c = float(np.mean([r.baseline for r in ref])), float(np.mean([r.candidate for r in ref]))
        out.append(Delta(name, mode, 0, b, c, 100 * (c - b), nan, nan, nan, False, "ok", 0,
                         sum(r.n_candidate for r in ref), "mean of task means; baseline published, no bootstrap"))
    return out


def compare_categories(ref: dict[str, tuple[str, float, int]], cand: dict[tuple[str, str], SideResult],
                       mode: str = "disc") -> list[Delta]:
    """One row per published category: the candidate's mean of its task means there, against the published one."""
    from umeval.core.registry import task_groups

    groups = task_groups()
    rows = []
    nan = float("nan")
    for group, (name, published, n) in ref.items():
        done = {t: r.values for t in groups[group] if (r := cand.get((t, mode))) is not None and r.status == "ok"
                and r.values is not None}
        means = [float(v.mean()) for v in done.values()]
        label = f"{name} [{group}]"
        if len(done) < n:
            missing = [t for t in groups[group] if t not in done]
            rows.append(Delta(label, mode, 0, published, float(np.mean(means)) if means else nan, nan, nan, nan, nan,
                              False, "incomplete" if means else "missing", 0, len(means),
                              f"{len(means)} of {n} tasks finished on the candidate side; not the published mean "
                              f"(missing: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''})"))
            continue
        c = float(np.mean(means))
        rows.append(Delta(label, mode, 0, published, c, 100 * (c - published), nan, nan, nan, False, "ok", 0,
                          sum(len(v) for v in done.values()),
                          f"baseline: published mean of {n} task means (no per-query scores, no bootstrap)"))
    return sorted(rows, key=lambda r: (_ORDER.get(r.status, 9), r.task))


def _gap(task: str, mode: str, status: str, b: SideResult | None, c: SideResult | None, note: str) -> Delta:
    nan = float("nan")
    bs = float(b.values.mean()) if b is not None and b.values is not None else (
        b.mean if b is not None and b.mean is not None else nan)
    cs = float(c.values.mean()) if c is not None and c.values is not None else nan
    return Delta(task, mode, 0, bs, cs, nan, nan, nan, nan, False, status,
                 len(b.values) if b is not None and b.values is not None else 0,
                 len(c.values) if c is not None and c.values is not None else 0, note)


@dataclass
class Paired:
    """One task of the overall row: paired per-query scores and each side's own score and size."""

    b: np.ndarray
    c: np.ndarray
    b_score: float
    c_score: float
    n_b: int
    n_c: int
    mismatch: bool


def _overall(per_mode: dict[str, list[Paired]], base: dict[tuple[str, str], SideResult],
             cand: dict[tuple[str, str], SideResult], rng: np.random.Generator, n_boot: int, threshold: float,
             alpha: float, expected: dict[str, int] | None) -> list[Delta]:
    """Per mode, over the tasks finished on both sides: each side's mean of its own task scores.

    The delta is paired: the mean of the task deltas, queries resampled within each task.
    """
    if expected is None:
        from umeval.core.registry import discover_tasks

        expected = {}
        for _, spec in discover_tasks().items():
            expected[spec.benchmark] = expected.get(spec.benchmark, 0) + 1
    out = []
    for mode, pairs in per_mode.items():
        boots = np.zeros(n_boot)
        for p in pairs:
            idx = rng.integers(0, len(p.b), size=(n_boot, len(p.b)))
            boots += (p.c - p.b)[idx].mean(axis=1)
        boots /= len(pairs)
        paired = float(np.mean([(p.c - p.b).mean() for p in pairs]))
        benches = {r.benchmark for (_, m), r in {**base, **cand}.items() if m == mode}
        total = sum(expected.get(str(x), 0) for x in benches) if None not in benches else 0
        complete = total > 0 and len(pairs) == total and all(
            sum(1 for (_, m), r in side.items() if m == mode and r.status == "ok") == total for side in (base, cand))
        name = OVERALL if complete else f"shared ({len(pairs)} of {total or '?'})"
        row = _delta(name, mode, float(np.mean([p.b_score for p in pairs])), float(np.mean([p.c_score for p in pairs])),
                     paired, boots, sum(len(p.b) for p in pairs), threshold, alpha)
        row.n_baseline, row.n_candidate = sum(p.n_b for p in pairs), sum(p.n_c for p in pairs)
        notes = []
        if not complete:
            notes.append(f"mean over the {len(pairs)} tasks finished on both sides; not comparable with an "
                         f"All over {total or 'every'} tasks")
        mismatched = sum(p.mismatch for p in pairs)
        if mismatched:
            row.status = "query mismatch"
            notes.append(f"{mismatched} task(s) with different query sets: delta over the paired queries")
        if row.regression:
            row.status = "regression"
        row.note = "; ".join(notes)
        out.append(row)
    return out


def _delta(task: str, mode: str, b: float, c: float, paired: float, boots: np.ndarray, n: int, threshold: float,
           alpha: float) -> Delta:
    d = 100 * paired
    if n == 0:
        return Delta(task, mode, 0, b, c, d, float("nan"), float("nan"), float("nan"), False)
    lo, hi = np.quantile(100 * boots, [alpha / 2, 1 - alpha / 2])
    p = float((boots >= 0).mean())
    # The decision is the reported interval: a drop beyond the threshold whose interval lies below zero.
    return Delta(task, mode, n, float(b), float(c), float(d), float(lo), float(hi), p,
                 bool(d < -threshold and hi < 0))


def _pts(v: float) -> str:
    return "-" if v != v else f"{100 * v:.2f}"


def _ci(r: Delta) -> str:
    return "-" if r.ci_low != r.ci_low else f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]"


def to_markdown(rows: list[Delta], *, alpha: float = 0.05, threshold: float = 1.0) -> str:
    """One Markdown table, regressions first, then gaps and mismatches, then the rest."""
    bad = [r for r in rows if r.status != "ok"]
    head = (f"**umeval compare**: {sum(r.status == 'regression' for r in rows)} regression(s), "
            f"{sum(r.status in GAPS for r in rows)} missing/failed/incomplete, "
            f"{sum(r.status == 'query mismatch' for r in rows)} query mismatch(es); a regression is a drop of more "
            f"than {threshold:g} points whose {100 * (1 - alpha):g}% paired-bootstrap interval lies below zero.")
    lines = [head, "", "| status | task | mode | queries (base/cand/paired) | baseline | candidate | delta (pts) | "
             f"{100 * (1 - alpha):g}% CI | note |", "|---|---|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        status = f"**{r.status}**" if r in bad and r.status not in ("new", "not comparable") else r.status
        delta = "-" if r.delta_points != r.delta_points else f"{r.delta_points:+.2f}"
        lines.append(f"| {status} | {r.task} | {r.mode} | {r.n_baseline}/{r.n_candidate}/{r.n_queries} | "
                     f"{_pts(r.baseline)} | {_pts(r.candidate)} | {delta} | {_ci(r)} | {r.note} |")
    return "\n".join(lines) + "\n"


def failures(rows: list[Delta], allow_missing: bool = False) -> list[str]:
    """``task/mode (status)`` of every row that fails the gate."""
    fail = FAILING if allow_missing else FAILING + GAPS
    return [f"{r.task}/{r.mode} ({r.status})" for r in rows if r.status in fail]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="umeval compare", description=__doc__.split("\n\n")[0])
    p.add_argument("baseline", type=Path)
    p.add_argument("candidate", type=Path)
    p.add_argument("--threshold", type=float, default=1.0, help="points (score x 100) a drop must exceed")
    p.add_argument("--alpha", type=float, default=0.05, help="1 - level of the two-sided bootstrap interval")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--query-tolerance", type=float, default=0.0,
                   help="share of a task's queries that may lack a partner on the other side (default 0)")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 on a significant drop, a task or mode missing/failed/incomplete on the candidate "
                        "side, or a query mismatch beyond --query-tolerance")
    p.add_argument("--allow-missing", action="store_true",
                   help="with --fail-on-regression: candidate-side gaps are reported but do not fail")
    p.add_argument("--markdown", type=Path, help="also write a Markdown report here (one table, for a PR)")
    p.add_argument("--json", type=Path, help="also write a JSON report here")
    ns = p.parse_args(argv)
    from umeval.results.reference import CATEGORY_KIND, load_category_reference, reference_kind

    if reference_kind(ns.baseline) == CATEGORY_KIND:
        rows = compare_categories(load_category_reference(ns.baseline), load_side(ns.candidate))
    else:
        rows = compare(load_side(ns.baseline), load_side(ns.candidate), threshold=ns.threshold, alpha=ns.alpha,
                       n_boot=ns.n_boot, seed=ns.seed, query_tolerance=ns.query_tolerance)
    table = Table(title=f"{ns.candidate} vs {ns.baseline}")
    for col in ("status", "task", "mode", "queries", "baseline", "candidate", "delta",
                f"{100 * (1 - ns.alpha):g}% CI", "note"):
        table.add_column(col, justify="left" if col in ("status", "task", "mode", "note") else "right")
    for r in rows:
        style = "bold red" if r.status in FAILING + GAPS else None
        table.add_row(r.status, r.task, r.mode, f"{r.n_baseline}/{r.n_candidate}/{r.n_queries}", _pts(r.baseline),
                      _pts(r.candidate), "-" if r.delta_points != r.delta_points else f"{r.delta_points:+.2f}",
                      _ci(r), r.note, style=style)
    Console(width=200).print(table)
    if ns.markdown:
        ns.markdown.write_text(to_markdown(rows, alpha=ns.alpha, threshold=ns.threshold))
    if ns.json:
        ns.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    bad = [f"{r.task}/{r.mode}" for r in rows if r.regression]
    if bad:
        print(f"regression (> {ns.threshold} points, interval below zero): {', '.join(bad)}")
    failing = failures(rows, ns.allow_missing)
    gaps = [f for f in failing if not f.endswith("(regression)")]
    if gaps:
        print(f"not comparable: {', '.join(gaps)}")
    return 1 if failing and ns.fail_on_regression else 0
