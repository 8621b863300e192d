"""``umeval compare BASELINE CANDIDATE``: per-task and overall deltas with a paired bootstrap over queries.

Each side is a model's result folder (``<output_dir>/<model>``, the one holding ``leaderboard.parquet`` and
``tasks/``).  For every (task, mode) present on both sides the per-query main scores are paired by query id.
The paired bootstrap (fixed seed) resamples queries with replacement; the overall score resamples queries
within each task independently and averages the task means, as the leaderboard's "All" does.

With ``--fail-on-regression`` the command exits 1 only when a drop is both larger than ``--threshold``
points (score x 100) and significant: the share of bootstrap deltas at or above zero is below ``--alpha``.
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

from umeval.errors import DataError

OVERALL = "All"


@dataclass
class Delta:
    task: str
    mode: str
    n_queries: int
    baseline: float
    candidate: float
    delta_points: float
    ci_low: float  # (1 - alpha) two-sided interval of the delta, points
    ci_high: float
    p_not_worse: float  # share of bootstrap deltas >= 0: small means a significant drop
    regression: bool


def load_side(folder: Path) -> dict[tuple[str, str], pd.Series]:
    """Per-query main scores by (task, mode), indexed by query id."""
    folder = Path(folder)
    tasks = folder / "tasks"
    if not tasks.is_dir():
        raise DataError(f"{folder} has no tasks/ folder", "pass a model's result folder, e.g. results/<model>")
    out: dict[tuple[str, str], pd.Series] = {}
    for scores_file in sorted(tasks.glob("*/*/scores.json")):
        scores = json.loads(scores_file.read_text())
        pq = scores_file.parent / "per_query.parquet"
        if scores.get("status") != "ok" or not pq.exists():
            continue
        m = scores["main_metric"]
        df = pd.read_parquet(pq, columns=["query_id", m])
        if df["query_id"].duplicated().any():
            raise DataError("duplicate query ids", "re-run the task", file=str(pq))
        out[(scores["task"], scores["mode"])] = df.set_index("query_id")[m].astype(float)
    if not out:
        raise DataError(f"{folder} holds no finished task results", "run `umeval run` first")
    return out


def compare(base: dict[tuple[str, str], pd.Series], cand: dict[tuple[str, str], pd.Series], *,
            threshold: float = 1.0, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0) -> list[Delta]:
    rng = np.random.default_rng(seed)
    rows: list[Delta] = []
    per_mode: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for key in sorted(set(base) & set(cand)):
        b, c = base[key].align(cand[key], join="inner")
        if len(b) == 0:
            continue
        bv, cv = b.to_numpy(), c.to_numpy()
        idx = rng.integers(0, len(bv), size=(n_boot, len(bv)))
        boots = (cv - bv)[idx].mean(axis=1)
        rows.append(_delta(key[0], key[1], bv.mean(), cv.mean(), boots, len(bv), threshold, alpha))
        per_mode.setdefault(key[1], []).append((bv, cv))
    for mode, pairs in per_mode.items():  # overall: mean of task means, queries resampled within tasks
        boots = np.zeros(n_boot)
        for bv, cv in pairs:
            idx = rng.integers(0, len(bv), size=(n_boot, len(bv)))
            boots += (cv - bv)[idx].mean(axis=1)
        boots /= len(pairs)
        rows.append(_delta(OVERALL, mode, np.mean([b.mean() for b, _ in pairs]),
                           np.mean([c.mean() for _, c in pairs]), boots, sum(len(b) for b, _ in pairs),
                           threshold, alpha))
    return rows


def _delta(task: str, mode: str, b: float, c: float, boots: np.ndarray, n: int, threshold: float,
           alpha: float) -> Delta:
    d = 100 * (c - b)
    lo, hi = np.quantile(100 * boots, [alpha / 2, 1 - alpha / 2])
    p = float((boots >= 0).mean())
    return Delta(task, mode, n, float(b), float(c), float(d), float(lo), float(hi), p,
                 bool(d < -threshold and p < alpha))


def to_markdown(rows: list[Delta]) -> str:
    lines = ["| task | mode | queries | baseline | candidate | delta (pts) | CI | regression |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        flag = "**yes**" if r.regression else ""
        lines.append(f"| {r.task} | {r.mode} | {r.n_queries} | {100 * r.baseline:.2f} | {100 * r.candidate:.2f} | "
                     f"{r.delta_points:+.2f} | [{r.ci_low:+.2f}, {r.ci_high:+.2f}] | {flag} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="umeval compare", description=__doc__.split("\n\n")[0])
    p.add_argument("baseline", type=Path)
    p.add_argument("candidate", type=Path)
    p.add_argument("--threshold", type=float, default=1.0, help="points (score x 100) a drop must exceed")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the paired bootstrap")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fail-on-regression", action="store_true", help="exit 1 on a significant drop")
    p.add_argument("--markdown", type=Path, help="also write a Markdown report here")
    p.add_argument("--json", type=Path, help="also write a JSON report here")
    ns = p.parse_args(argv)
    rows = compare(load_side(ns.baseline), load_side(ns.candidate), threshold=ns.threshold, alpha=ns.alpha,
                   n_boot=ns.n_boot, seed=ns.seed)
    table = Table(title=f"{ns.candidate} vs {ns.baseline}")
    for col in ("task", "mode", "queries", "baseline", "candidate", "delta", "95% CI" if ns.alpha == 0.05 else "CI",
                "regression"):
        table.add_column(col, justify="right" if col not in ("task", "mode") else "left")
    for r in rows:
        style = "bold red" if r.regression else None
        table.add_row(r.task, r.mode, str(r.n_queries), f"{100 * r.baseline:.2f}", f"{100 * r.candidate:.2f}",
                      f"{r.delta_points:+.2f}", f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]",
                      "yes" if r.regression else "", style=style)
    Console().print(table)
    if ns.markdown:
        ns.markdown.write_text(to_markdown(rows))
    if ns.json:
        ns.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    bad = [f"{r.task}/{r.mode}" for r in rows if r.regression]
    if bad:
        print(f"regression (> {ns.threshold} points, p < {ns.alpha}): {', '.join(bad)}")
    return 1 if bad and ns.fail_on_regression else 0
