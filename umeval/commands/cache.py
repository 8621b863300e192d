"""``umeval cache ls|du|prune [key=value ...]``: what the embedding cache holds, its size, and pruning.

The cache folder is the run's (``cache_dir=``, else ``$UMEVAL_CACHE``, else ``~/.cache/umeval``).  Its embedding
store (:mod:`umeval.run.store`) has one folder per model (``embeddings/<model>``, ``<model>@float16`` for
float16 vectors); each shard file in it was written under one encoder fingerprint (the encoder class, the
family's name, version and key fields, the resolved runtime: :func:`umeval.run.runner.encoder_fingerprint`).

- ``ls``: per store and fingerprint: family and version, backend, device and dtype, entries, shards, size, last
  write, and whether the current configuration of that model (its preset plus the ``key=value`` settings given)
  reads it: ``current``; ``stale`` (another fingerprint: what differs is named, e.g. a torch upgrade); ``orphan``
  (no preset of that name any more); ``unrecorded`` (a shard written before umeval recorded fingerprints).
- ``du``: disk used per cache folder (each store, page images spilled from parquet, generated data, built
  checkpoints) and in all.
- ``prune``: the stale and orphan shards (``--unrecorded``: those too); a dry run that lists them unless ``--yes``.
  The settings given are the configuration kept: a suite run with ``seed=1`` keeps its vectors with
  ``umeval cache prune seed=1``.  A ``model=`` setting limits every subcommand to that model's stores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from umeval.core.errors import ConfigError
from umeval.run.store import ShardInfo, identities, shards

#: Status of a fingerprint's shards, and which of them prune removes.
CURRENT, STALE, ORPHAN, UNRECORDED = "current", "stale", "orphan", "unrecorded"


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out |= _flat(v, f"{prefix}{k}.")
        return out
    return {prefix.rstrip("."): d}


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``path: old -> new`` for each leaf where two encoder identities differ."""
    a, b = _flat(recorded), _flat(current)
    return [f"{k}: {a.get(k)} -> {b.get(k)}" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


@dataclass
class Group:
    """The shards of one store written under one fingerprint (``None``: unrecorded)."""

    store: str
    encoder: str | None
    status: str
    identity: dict[str, Any] | None = None
    why: list[str] = field(default_factory=list)
    shards: list[ShardInfo] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return sum(s.entries for s in self.shards)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.shards)

    def row(self) -> dict[str, Any]:
        ident = self.identity or {}
        model, rt = ident.get("model") or {}, ident.get("runtime") or {}
        return {"store": self.store, "encoder": self.encoder, "status": self.status,
                "family": f"{model.get('family')}@{model.get('family_version')}" if model else None,
                "backend": rt.get("backend"), "device": rt.get("device"), "dtype": rt.get("dtype"),
                "entries": self.entries, "shards": len(self.shards), "bytes": self.bytes,
                "last_write": time.strftime("%Y-%m-%d %H:%M", time.gmtime(max(s.mtime for s in self.shards)))
                if self.shards else None, "why": self.why}


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    """(flags, key=value settings)."""
    return [a for a in args if a.startswith("-")], [a for a in args if not a.startswith("-")]


def cache_root(overrides: list[str]) -> Path:
    from umeval.core.config import cache_dir, compose_config

    return cache_dir(compose_config([o for o in overrides if not o.startswith("model=")]))


def stores(root: Path, overrides: list[str]) -> list[Path]:
    only = next((o.partition("=")[2] for o in overrides if o.startswith("model=")), None)
    base = root / "embeddings"
    found = sorted(d for d in base.iterdir() if d.is_dir()) if base.is_dir() else []
    return [d for d in found if only is None or d.name.partition("@")[0] == only]


def current_identity(store: Path, overrides: list[str]) -> dict[str, Any] | None:
    """What the store's model encodes under now (its preset plus ``overrides``); None when it has no preset."""
    from umeval.core.config import compose_config
    from umeval.core.registry import model_names
    from umeval.run.context import encoder_identity

    name, _, dtype = store.name.partition("@")
    if name not in model_names():
        return None
    rest = [o for o in overrides if not o.startswith(("model=", "store_dtype="))]
    cfg = compose_config([f"model={name}", f"store_dtype={dtype or 'float32'}", *rest])
    return json.loads(json.dumps(encoder_identity(cfg), default=str))  # as recorded: JSON types


def survey(root: Path, overrides: list[str]) -> list[Group]:
    """Every (store, fingerprint) group with its status."""
    from umeval.core.config import fingerprint

    groups: list[Group] = []
    for d in stores(root, overrides):
        known = identities(d)
        now = current_identity(d, overrides)
        now_fp = fingerprint(now) if now is not None else None
        by_fp: dict[str | None, Group] = {}
        for shard in shards(d):
            g = by_fp.get(shard.encoder)
            if g is None:
                ident = known.get(shard.encoder) if shard.encoder else None
                if now is None:
                    status, why = ORPHAN, [f"no model preset named {d.name.partition('@')[0]}"]
                elif shard.encoder is None:
                    status, why = UNRECORDED, ["written before umeval recorded encoder fingerprints"]
                elif shard.encoder == now_fp:
                    status, why = CURRENT, []
                else:
                    status = STALE
                    why = differences(ident, now) if ident else ["fingerprint not described in the store"]
                g = by_fp[shard.encoder] = Group(store=d.name, encoder=shard.encoder, status=status,
                                                 identity=ident, why=why)
            g.shards.append(shard)
        groups += by_fp.values()
    return groups


def cmd_ls(root: Path, overrides: list[str], as_json: bool) -> int:
    rows = [g.row() for g in survey(root, overrides)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    from umeval.commands.help import console

    table = Table(title=f"embedding cache {root / 'embeddings'}")
    cols = ["store", "encoder", "status", "family", "backend", "device", "dtype", "entries", "shards", "size",
            "last_write", "why"]
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        r = r | {"size": human(r["bytes"]), "encoder": (r["encoder"] or "-")[:16], "why": "; ".join(r["why"])}
        table.add_row(*["" if r[c] is None else str(r[c]) for c in cols])
    console().print(table)
    if not rows:
        print(f"no embeddings under {root / 'embeddings'}")
    return 0


def cmd_du(root: Path, overrides: list[str], as_json: bool) -> int:
    rows: list[dict[str, Any]] = [{"folder": f"embeddings/{d.name}", "bytes": folder_bytes(d)}
                                  for d in stores(root, overrides)]
    if not any(o.startswith("model=") for o in overrides) and root.is_dir():
        emb = root / "embeddings"  # files beside the stores (the media digest sidecar)
        rows += [{"folder": f"embeddings/{p.name}", "bytes": p.stat().st_size}
                 for p in (sorted(emb.iterdir()) if emb.is_dir() else []) if p.is_file()]
        rows += [{"folder": p.name, "bytes": folder_bytes(p)} for p in sorted(root.iterdir())
                 if p.is_dir() and p.name != "embeddings"]
    total = sum(r["bytes"] for r in rows)
    if as_json:
        print(json.dumps({"root": str(root), "folders": rows, "total_bytes": total}, indent=2))
        return 0
    width = max([len(r["folder"]) for r in rows] + [5])
    for r in rows:
        print(f"{human(r['bytes']):>10}  {r['folder']:<{width}}")
    print(f"{human(total):>10}  total ({root})")
    return 0


def cmd_prune(root: Path, overrides: list[str], yes: bool, unrecorded: bool) -> int:
    doomed = {STALE, ORPHAN} | ({UNRECORDED} if unrecorded else set())
    groups = [g for g in survey(root, overrides) if g.status in doomed]
    size = sum(g.bytes for g in groups)
    for g in groups:
        why = f" ({'; '.join(g.why)})" if g.why else ""
        print(f"{'delete' if yes else 'would delete'} {g.store} {(g.encoder or '-')[:16]} {g.status}: "
              f"{len(g.shards)} shard(s), {g.entries} entries, {human(g.bytes)}{why}")
    if not groups:
        print("nothing to prune: every shard is read by the current configuration"
              + ("" if unrecorded else " (or unrecorded: pass --unrecorded to prune those)"))
        return 0
    if not yes:
        print(f"dry run: {human(size)} in {sum(len(g.shards) for g in groups)} shard(s) would be freed; "
              "pass --yes to delete")
        return 0
    for g in groups:
        for s in g.shards:
            for f in s.files:  # a multi-vector shard: its index first, so no index names a lost file
                f.unlink(missing_ok=True)
        if g.encoder:
            (root / "embeddings" / g.store / "encoders" / f"{g.encoder}.json").unlink(missing_ok=True)
    print(f"deleted {sum(len(g.shards) for g in groups)} shard(s), {human(size)} freed")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="umeval cache", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("action", choices=["ls", "du", "prune"])
    p.add_argument("settings", nargs="*", metavar="key=value", help="run settings (cache_dir=, model=, seed=, ...)")
    p.add_argument("--json", action="store_true", help="machine-readable output (ls, du)")
    p.add_argument("--yes", action="store_true", help="prune: delete (without it, a dry run)")
    p.add_argument("--unrecorded", action="store_true",
                   help="prune: also shards written before umeval recorded fingerprints")
    return p


def main(args: list[str]) -> int:
    from umeval.commands.help import doc_help, wants_help

    if wants_help(args) and not [a for a in args if a in ("ls", "du", "prune")]:
        print(doc_help(__doc__))
        return 0
    ns = parser().parse_intermixed_args(args)  # settings and flags in any order
    bad = [s for s in ns.settings if "=" not in s]
    if bad:
        raise ConfigError(f"bad argument '{bad[0]}'", "write settings as key=value, e.g. cache_dir=/data/cache")
    root = cache_root(ns.settings)
    if ns.action == "ls":
        return cmd_ls(root, ns.settings, ns.json)
    if ns.action == "du":
        return cmd_du(root, ns.settings, ns.json)
    return cmd_prune(root, ns.settings, ns.yes, ns.unrecorded)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
