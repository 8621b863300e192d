"""``umeval data fetch|status``: get the MMEB-V2 data, and see which tasks have all of it.

Both take the run's ``task=`` selector and ``data_root=`` (default: the run's, ``<cache_dir>/MMEB-V2``), so
the folder they fill or check is the one ``umeval run`` reads.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from umeval.core.errors import ConfigError

HELP = """usage: umeval data fetch|status task=<selector> [data_root=DIR] [options]
  umeval data fetch task=<selector> [data_root=DIR] [--dry-run] [--keep-archives] [--endpoint URL]
      download the annotations and media archives the tasks need (huggingface_hub: resumable, checksummed),
      unpack them into the official layout; a second call downloads nothing
  umeval data status task=<selector> [data_root=DIR] [--json] [--strict]
      per task: annotations, every media file its rows name, row counts against the official run;
      exit 1 when a task is incomplete (--strict: also when a count differs from the official one)"""


def _parse(args: list[str], prog: str) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog=prog, add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--keep-archives", action="store_true")
    p.add_argument("--endpoint", default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--strict", action="store_true")
    ns, rest = p.parse_known_args(args)
    bad = [a for a in rest if "=" not in a or a.startswith("-")]
    if bad:
        raise ConfigError(f"unknown argument(s) {' '.join(bad)} for {prog}", "see `umeval data --help`")
    return ns, rest


def _resolve(overrides: list[str]):
    """The tasks and the data root of ``umeval run`` with the same overrides."""
    from umeval.core.config import cache_dir, compose_config
    from umeval.core.registry import resolve_tasks

    cfg = compose_config(overrides)
    root = Path(cfg.data_root).expanduser() if cfg.data_root else cache_dir(cfg) / "MMEB-V2"
    return cfg, resolve_tasks(cfg.task), root


def main(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        print(HELP)
        return 0
    sub, rest = args[0], args[1:]
    if sub not in ("fetch", "status"):
        raise ConfigError(f"unknown data command '{sub}'", "use `umeval data fetch` or `umeval data status`")
    ns, overrides = _parse(rest, f"umeval data {sub}")
    if ns.help:
        print(HELP)
        return 0
    cfg, specs, root = _resolve(overrides)
    if sub == "fetch":
        from umeval.data.fetch import fetch

        fetch(specs, root, endpoint=ns.endpoint or os.environ.get("HF_ENDPOINT") or None, dry_run=ns.dry_run,
              keep_archives=ns.keep_archives)
        if not ns.dry_run:
            sel = next((o for o in overrides if o.startswith("task=")), f"task={cfg.task}")
            print(f"done: data under {root}; check it with `umeval data status {sel} data_root={root}`")
        return 0
    return status(specs, root, cfg, as_json=ns.json, strict=ns.strict)


def status(specs, root: Path, cfg, *, as_json: bool, strict: bool) -> int:
    from umeval.data.status import check_tasks
    from umeval.loaders import LoadContext

    def ctx_for(spec):
        return LoadContext(data_root=root, allow_hub=False)

    results = check_tasks([s for s in specs if not s.source.generated], ctx_for)
    bad = [st for st in results if not st.complete or (strict and not st.counts_match)]
    if as_json:
        print(json.dumps([st.to_json() for st in results], indent=2))
    else:
        for st in results:
            state = "ok" if st.complete else "INCOMPLETE"
            counts = "" if st.queries is None else f"{st.queries} queries" + (
                "" if st.official_queries is None else f" (official {st.official_queries})")
            extra = [f"{st.media_files} media files"] if st.annotations == "local" else []
            if st.to_extract:
                extra.append(f"{st.to_extract} video(s) to extract")
            if st.extracted:
                extra.append(f"{st.extracted} frame folder(s) extracted by umeval")
            print(f"{state:<10} {st.task:<45} {counts:<26} {', '.join(extra)}")
            if not st.complete:
                print(f"           {st.problem()}")
            if st.variant:
                print(f"           data variant: {st.variant}")
        print(f"{len(results) - len(bad)} of {len(results)} task(s) complete under {root}")
    return 1 if bad else 0
