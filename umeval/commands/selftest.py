"""``umeval selftest [task=...] [keep=DIR] [model=oracle] [key=value ...]``: check the pipeline on known answers.

Writes every selected task's fixture (:mod:`umeval.testing.fixtures`, the official on-disk layouts) into a temporary
data root (or ``DIR/data``, kept), runs the weight-free oracle encoder (``model=oracle``) through the same code
as ``umeval run`` (:func:`umeval.core.config.compose_config` + :func:`umeval.run.runner.run`, hub off), and compares
every task's metrics with what a perfect ranking scores on that fixture.  On the fixtures a query's relevant
candidates are exactly those of its class, so the oracle must score each task's main metric 1.0, every other
metric its hand-computed value (:func:`umeval.testing.fixtures.expected_scores`; recall@k < 1 where a query has more
than k positives), with no ties; in gen mode sample s is right iff s is even, so the headline (the mean over samples)
and pass@k are known too (see :func:`expected_for`).  Scores are compared within :data:`ULPS` units in the last place.

Exit 0 when every task matches; 1 otherwise, naming the tasks.  Any other model (e.g. ``model=tiny-qwen2vl``)
runs the same check and fails it unless it ranks perfectly: the check proves the pipeline (loaders, pools,
qrels, store, scorer, metrics, writer), not a model's quality.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
from math import comb
from pathlib import Path
from typing import Any

from umeval.core.errors import ConfigError

DEFAULT_TASKS = "[all,mini]"


#: Scores are compared with a tolerance of this many units in the last place (of 1.0, or of the value when larger):
#: a mean over samples or queries may round differently from the hand-computed value (pass@2 was one ulp off).
ULPS = 4


def expected_for(relevant: list[int], metrics: tuple[str, ...] | list[str], main: str, mode: str,
                 samples: int) -> dict[str, float]:
    """What the oracle scores on a task whose queries have ``relevant`` positives each, in ``mode``.

    In gen mode a row's score is the mean over samples (the headline, pass@1).  With one sample, every metric is
    the perfect ranking's.  With more, sample s is right iff s is even: the oracle ranks perfectly on even samples
    and puts every relevant candidate last on odd ones, where the main metric of every fixture is 0 (each query
    ranks at least cutoff + positives candidates), so the main metric is the share of right
    samples and pass@k the chance that k samples hold a right one.  The other metrics of an odd sample depend on
    each query's pool size, which the answer key does not hold: they are not checked with more than one sample.
    """
    from umeval.testing.fixtures import expected_scores

    if mode == "oracle":
        return {main: 1.0}
    exp = expected_scores(relevant, metrics)
    if mode == "gen" and samples > 1:
        from umeval.scoring.passk import ks_for

        right = (samples + 1) // 2
        exp = {main: right / samples}
        exp.update({f"pass@{k}": 1.0 - comb(samples - right, k) / comb(samples, k) for k in ks_for(samples)})
    return exp


def close(got: float | None, want: float) -> bool:
    """``got`` equals ``want`` within :data:`ULPS` units in the last place."""
    return got is not None and abs(got - want) <= ULPS * math.ulp(max(1.0, abs(want)))


def check(scores: dict[str, Any], expected: dict[str, float]) -> list[str]:
    """The mismatches of one task row: ``metric expected X got Y`` strings (empty when it passes)."""
    if scores.get("status") != "ok":
        return [f"status {scores.get('status')}: {scores.get('error')}"]
    got = scores.get("metrics", {})
    bad = [f"{m} expected {v:.17g} got {got.get(m, float('nan')):.17g}" for m, v in expected.items()
           if not close(got.get(m), v)]
    if scores.get("n_tied", 0) != 0:
        bad.append(f"n_tied expected 0 got {scores['n_tied']}")
    return bad


def run_selftest(overrides: list[str], keep: str | None = None, out: Any = None) -> tuple[int, list[dict[str, Any]]]:
    """Write fixtures, run, compare.  Returns the exit code and one record per (task, mode)."""
    from umeval.core.config import cache_dir, compose_config
    from umeval.core.registry import resolve_tasks
    from umeval.data.embedded import ensure_generated
    from umeval.run.api import evaluate_config
    from umeval.testing.fixtures import relevant_counts, write_fixture

    out = out or sys.stdout
    own = [o for o in overrides if o.partition("=")[0] in ("data_root", "output_dir", "cache_dir", "hub")]
    if own:
        raise ConfigError(f"selftest sets {', '.join(o.partition('=')[0] for o in own)} itself",
                          "drop it; pass keep=DIR to keep the fixtures and results in DIR")
    work = Path(keep).expanduser() if keep else Path(tempfile.mkdtemp(prefix="umeval-selftest-"))
    try:
        if not any(o.startswith("task=") for o in overrides):
            overrides = [f"task={DEFAULT_TASKS}", *overrides]
        if not any(o.startswith("model=") for o in overrides):
            overrides = ["model=oracle", *overrides]
        data, cache = work / "data", work / "cache"
        cfg = compose_config([*overrides, f"data_root={data}", f"output_dir={work / 'results'}",
                              f"cache_dir={cache}", "hub=false", "progress=false", "keep_going=true"])
        if cfg.limit is not None:
            raise ConfigError("selftest checks whole fixtures", "drop limit=")
        specs = resolve_tasks(cfg.task)
        for spec in specs:
            if not spec.source.generated and not (data / ".expected" / f"{spec.name}.json").exists():
                write_fixture(spec, data, seed=int(cfg.seed))
        generated = [s for s in specs if s.source.generated]
        gen_root = ensure_generated(generated, cache_dir(cfg), seed=int(cfg.seed)) if generated else None
        summary = evaluate_config(cfg, command="selftest")
        records = []
        for sc in (r.to_row() for r in summary.results.values()):
            spec = next(s for s in specs if s.name == sc["task"])
            relevant = relevant_counts(gen_root if spec.source.generated and gen_root else data, spec.name)
            exp = expected_for(relevant, spec.metrics, spec.main_metric, sc["mode"], int(cfg.gen.samples))
            bad = check(sc, exp)
            got = sc.get("metrics", {}).get(spec.main_metric, float("nan"))
            records.append({"task": spec.name, "mode": sc["mode"], "metric": spec.main_metric,
                            "expected": exp[spec.main_metric], "got": got, "problems": bad})
        width = max((len(r["task"]) for r in records), default=4)
        print(f"selftest: model={cfg.model.name}, {len(specs)} tasks, data in {data}", file=out)
        for r in records:
            status = "ok" if not r["problems"] else "FAIL " + "; ".join(r["problems"])
            print(f"{r['task']:<{width}}  {r['mode']:<6} {r['metric']:<14} expected {r['expected']:.4f}  "
                  f"got {r['got']:.4f}  {status}", file=out)
        failed = sorted({r["task"] for r in records if r["problems"]})
        if failed:
            print(f"selftest FAILED on {len(failed)} of {len(specs)} tasks: {', '.join(failed)}", file=out)
            return 1, records
        print(f"selftest passed: {len(records)} task rows equal their expected scores", file=out)
        return 0, records
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def main(args: list[str]) -> int:
    from umeval.commands.help import doc_help, wants_help

    if wants_help(args):
        print(doc_help(__doc__))
        return 0
    keep = next((a.partition("=")[2] for a in args if a.startswith("keep=")), None)
    overrides = [a for a in args if not a.startswith("keep=")]
    return run_selftest(overrides, keep=keep)[0]
