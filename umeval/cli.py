"""Command line: ``umeval run key=value ...`` (Hydra overrides), ``umeval list tasks|models|families [--json]``.

User-fixable problems print one line (``error: <what>; <fix>``) and exit 2, with no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from rich.table import Table

from umeval.commands.help import console
from umeval.core.errors import UmevalError
from umeval.results.summary import failed_exit, print_sampling, print_summary

USAGE = """usage:
  umeval run [key=value ...]       evaluate, e.g. `umeval run task=mini model=tiny-qwen2vl`
  umeval list tasks|models|families [--json]
  umeval launch shards=N [key=value ...]   N shards as Ray tasks, then the merge
  umeval compare BASELINE CANDIDATE [--fail-on-regression] [--allow-missing] [--markdown report.md]
  umeval export RESULTS... --format mmeb-v2|csv|markdown|json [-o PATH]
  umeval show RESULTS... [--format table|csv|markdown|json] [--runs]
  umeval cache ls|du|prune [key=value ...] [--yes]   the embedding cache: contents, disk, pruning (dry run)
  umeval report RESULTS... [-o report.html]   one self-contained HTML page with charts and traces
  umeval selftest [task=...] [keep=DIR] [model=oracle]   check the pipeline on fixtures with known scores
  umeval estimate task=... model=... [mode=...] [--gpu h100|h200|a100|l40s] [--json]   tokens and GPU hours
  umeval data fetch|status task=... [data_root=DIR]   download the MMEB-V2 data; check which tasks are complete
  umeval --version
`umeval <command> --help` describes each command; `umeval run --help` lists every setting with its default."""


#: Subcommands: name -> "module:function(args) -> exit code", imported only when called (so `umeval list`
#: never imports torch).  A new subcommand is one line here and a module of its own.
COMMANDS: dict[str, str] = {
    "run": "umeval.cli:cmd_run",
    "list": "umeval.cli:cmd_list",
    "launch": "umeval.run.launch:main",
    "compare": "umeval.commands.compare:main",
    "prompts": "umeval.commands.prompts:main",
    "export": "umeval.commands.export:main",
    "show": "umeval.commands.show:main",
    "report": "umeval.commands.report:main",
    "selftest": "umeval.commands.selftest:main",
    "doctor": "umeval.commands.doctor:main",
    "cache": "umeval.commands.cache:main",
    "estimate": "umeval.commands.estimate:main",
    "data": "umeval.commands.data:main",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=os.environ.get("UMEVAL_LOG", "WARNING"), format="%(levelname)s %(message)s")
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] in ("--version", "-V"):
        import umeval

        print(f"umeval {umeval.__version__}")
        return 0
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd not in COMMANDS:
            from umeval.core.plugins import suggest

            hint = suggest(cmd, COMMANDS)
            raise UmevalError(f"unknown command '{cmd}'",
                              (hint + " " if hint else "") + f"use one of: {', '.join(COMMANDS)}")
        from umeval.core.plugins import load_object

        return int(load_object(COMMANDS[cmd])(rest))
    except UmevalError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished tasks are saved; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `umeval ... | head`: the reader left; stop quietly, no traceback at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def cmd_list(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="umeval list")
    p.add_argument("what", choices=["tasks", "models", "families"])
    p.add_argument("--json", action="store_true", help="machine-readable output")
    ns = p.parse_args(args)
    from umeval.core import registry
    if ns.what == "tasks":
        from umeval.commands.listing import task_rows

        rows = task_rows()
    elif ns.what == "families":
        from umeval.models.family import discover_families

        rows = [{"name": n, "backends": list(m.backends), "modes": list(m.modes), "prompts": list(m.prompts),
                 "options": dict(m.options), "pooling": m.pooling, "preprocessing": m.preprocessing,
                 "checkpoints": [f"{c.hub_id}@{c.revision}" for c in m.checkpoints], "version": m.version,
                 "description": m.description} for n, m in discover_families().items()]
    else:
        rows = []
        for name in registry.model_names():
            cfg = registry.model_config(name)
            rows.append({"name": name, "family": cfg.get("family"), "path": cfg.get("path"),
                         "revision": cfg.get("revision", "main"), "prompt": cfg.get("prompt"),
                         "modes": cfg.get("modes"), "description": cfg.get("description", "")})
    if ns.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"umeval {ns.what}")
    cols = {"tasks": ["name", "modality", "meta_category", "main_metric", "queries", "candidates", "source"],
            "families": ["name", "backends", "modes", "prompts", "pooling", "checkpoints"],
            "models": ["name", "family", "path", "modes", "description"]}[ns.what]
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*[", ".join(r[c]) if isinstance(r[c], list) else "" if r[c] is None else str(r[c]) for c in cols])
    console().print(table)
    if ns.what == "tasks":
        groups = registry.task_groups()
        print("groups: " + ", ".join(f"{g} ({len(v)})" for g, v in groups.items()))
        print("queries: scored in the official MMEB-V2 run; source: the data's paper (`--json`: every citation, "
              "the benchmark's first)")
    return 0


def cmd_run(overrides: list[str]) -> int:
    from umeval.commands.help import resolved_config_request, run_help, shard_next_step, wants_help

    if wants_help(overrides):
        print(run_help())
        return 0
    overrides, print_cfg = resolved_config_request(overrides)
    from umeval.core.config import compose_config

    cfg = compose_config(overrides)  # bad settings fail here, before torch is imported
    if print_cfg:
        from omegaconf import OmegaConf

        print(OmegaConf.to_yaml(cfg), end="")
        from umeval.commands.estimate import as_comment

        print(as_comment(cfg))  # what the run will cost, as `umeval estimate` says
        return 0
    from umeval.run.api import evaluate_config

    results = evaluate_config(cfg, command="run")  # the Python API's path (umeval.evaluate), plus printing
    if cfg.shard:
        print(shard_next_step(overrides, results.encoder_calls))
        return 0
    print_summary(results.leaderboard, console())
    print_sampling(results.leaderboard, console())
    print(f"results: {results.model_dir}/leaderboard.parquet ({results.encoder_calls} items encoded)")
    return failed_exit(results.failed)


if __name__ == "__main__":
    raise SystemExit(main())
