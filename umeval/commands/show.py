"""``umeval show <result folder(s)>``: the leaderboard of finished runs, read back from disk.

The default is the table ``umeval run`` prints at its end (:func:`umeval.results.summary.print_summary`: main score per
task and roll-up, one column per mode with deltas against disc, queries, ties, failures), built from the
``scores.json`` files, so it needs no rerun and works on copied or merged result folders.  ``--format csv``,
``markdown`` or ``json`` print the wide table of ``umeval export`` instead (with pass@k columns).
``--runs`` lists the commands that produced them instead, with their time per task and stage
(:mod:`umeval.commands.runs`).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from umeval.commands.export import ResultSet, load_results, render


def boards(rs: ResultSet) -> dict[str, pd.DataFrame]:
    """One leaderboard per model, rebuilt from its task results."""
    from umeval.core.registry import discover_tasks
    from umeval.results import files as res
    from umeval.results.expected import expected_by_benchmark, expected_counts

    benches = {s.get("benchmark") for s in rs.scores}
    specs = [spec for _, spec in discover_tasks().items() if spec.benchmark in benches]
    return {m: res.leaderboard(rs.of(m), expected_counts(specs), expected_by_benchmark(specs)) for m in rs.models}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="umeval show", description=(
        "Print the leaderboard of finished runs from their result folders (no rerun): the table `umeval run` "
        "prints, or the wide table of `umeval export` with --format csv|markdown|json."))
    p.add_argument("folders", nargs="+", metavar="RESULTS", help="result folders (an output_dir or a model folder)")
    p.add_argument("--format", "-f", default="table", choices=["table", "csv", "markdown", "json"])
    p.add_argument("--runs", action="store_true",
                   help="list the run history (each command, its tasks and their time per stage) instead")
    p.add_argument("--last", type=int, default=10, metavar="N", help="with --runs: the last N commands (0: all)")
    return p


def main(args: list[str]) -> int:
    ns = parser().parse_args(args)
    if ns.runs:
        from umeval.commands.runs import show_runs

        return show_runs(ns.folders, "json" if ns.format == "json" else "table", ns.last)
    rs = load_results(ns.folders)
    if ns.format != "table":
        sys.stdout.write(render(rs, ns.format))
        return 0
    from umeval.commands.help import console
    from umeval.results.summary import print_summary

    out = console()
    for board in boards(rs).values():
        print_summary(board, out)
    return 0
