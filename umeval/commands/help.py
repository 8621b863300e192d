"""Help and terminal conventions of the command line, generated from the config schema.

``umeval run --help`` lists every setting of :class:`umeval.core.config.RunConfig` (walked recursively), its
default (from the composed default config, so model presets show their own values) and its meaning: the
field's trailing ``# comment`` in umeval/core/config.py, else :data:`MEANING`.  A new field with neither fails
``tests/test_cli_conventions.py``, so the help cannot silently fall behind the schema.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import shutil
import sys
import textwrap
from typing import Any

from rich.console import Console

#: Meanings of the fields that have no trailing comment in umeval/core/config.py (the comment wins when both exist).
MEANING: dict[str, str] = {
    "task": "task names, groups (all, image, video, visdoc, a meta-category such as I-CLS, mini), "
            "globs (ViDoRe_*) or a list [a,b]; see `umeval list tasks`",
    "model": "model preset (conf/model/<name>.yaml); see `umeval list models`",
    "model.name": "the preset's name, used for result folders",
    "model.path": "local folder or hub id of the checkpoint; null: built by model.builder",
    "model.revision": "hub revision of the checkpoint",
    "model.encoder": "encoder class (module:Class) overriding the family's for the backend",
    "model.formats": "filled from the family: the prompt format's code per role (query, candidate)",
    "model.declared": "filled from the family: position ids, slow image processor, token cost the encoders honour",
    "model.modes": "modes the model supports (disc, gen)",
    "model.min_pixels": "smallest image area in pixels after resizing",
    "model.max_pixels": "largest image area in pixels after resizing",
    "model.num_frames": "frames sampled per video",
    "model.instruction_set": "instruction set the model was trained with",
    "model.dtype": "weights dtype: auto, float32, bfloat16, float16",
    "model.attn_implementation": "attention kernel of the hf backend (sdpa, eager, flash_attention_2)",
    "model.trust_remote_code": "allow the checkpoint's own code (hf backend)",
    "model.decoding": "how generative traces are decoded",
    "model.decoding.do_sample": "sample (true) or decode greedily (false)",
    "model.decoding.temperature": "sampling temperature",
    "model.decoding.top_k": "sampling top-k",
    "model.decoding.top_p": "sampling nucleus mass",
    "model.decoding.max_new_tokens": "longest trace in tokens",
    "model.description": "free text shown by `umeval list models`",
    "scorer": "ranking settings",
    "scorer.query_tile": "queries scored per block in global search (memory bound)",
    "gen": "generative mode settings",
    "gen.samples": "traces sampled per query; > 1 adds pass@k to the scores",
    "gen.seed": "base seed of sampled traces",
    "gen.resample_candidates": "sample every candidate as often as the queries (default: once)",
    "output_dir": "where results are written (<output_dir>/<model>/...)",
    "data_root": "folder holding the MMEB-V2 data; null: <cache_dir>/MMEB-V2",
    "cache_dir": "embedding store, generated data and built models; null: $UMEVAL_CACHE or ~/.cache/umeval",
    "batch_size": "items per encoder batch",
    "device": "auto, cpu, cuda, cuda:1, ...",
    "limit": "keep only the first N queries of each task (quick looks; scores are then not comparable)",
    "keep_going": "record a failed task and go on with the others",
    "overwrite": "recompute finished tasks instead of reusing their results",
    "num_workers": "data loading worker processes",
    "seed": "seed of generated data and of the encoder",
    "progress": "show progress (bars on a terminal, timestamped lines otherwise)",
}

OPTIONS = [
    ("--cfg", "print the resolved configuration (YAML) and exit; `--cfg job` as in Hydra also works"),
    ("-h, --help", "show this help and exit"),
]


def _comments(cls: type) -> dict[str, str]:
    """Trailing ``# comment`` of each field line in a dataclass's source."""
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for line in src.splitlines():
        m = re.match(r"^\s+(\w+)\s*:[^#]*#\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def _dataclass_of(tp: Any, owner: type) -> type | None:
    if isinstance(tp, str):
        tp = vars(sys.modules[owner.__module__]).get(tp)
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def schema_fields(cls: type | None = None, prefix: str = "") -> list[tuple[str, str, str | None, bool]]:
    """``(dotted key, type, meaning, is_group)`` of every setting; a group (nested dataclass) precedes its keys."""
    if cls is None:
        from umeval.core.config import RunConfig

        cls = RunConfig
    comments = _comments(cls)
    out: list[tuple[str, str, str | None, bool]] = []
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        sub = _dataclass_of(f.type, cls)
        out.append((key, str(f.type), comments.get(f.name) or MEANING.get(key), sub is not None))
        if sub is not None:
            out += schema_fields(sub, key + ".")
    return out


def _default(cfg: Any, key: str) -> str:
    from omegaconf import OmegaConf

    try:
        v = OmegaConf.select(cfg, key, throw_on_missing=False)
    except Exception:  # noqa: BLE001 - a key that cannot be read has no default to show
        return "?"
    if OmegaConf.is_config(v):
        v = OmegaConf.to_container(v)
    if key == "model" and isinstance(v, dict):
        return str(v.get("name"))
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def run_help() -> str:
    from umeval.core.config import compose_config
    from umeval.core.registry import model_names

    cfg = compose_config([])
    width = min(shutil.get_terminal_size((100, 20)).columns, 120)
    lines = [
        "usage: umeval run [key=value ...] [--cfg]",
        "",
        "Evaluate a model on tasks.  Settings are Hydra overrides: key=value, nested keys with dots",
        "(model.decoding.do_sample=true).  Finished tasks are reused; run the same command again to resume.",
        f"Model presets: {', '.join(model_names())}.",
        "",
        "options:",
        *[f"  {o:<12} {h}" for o, h in OPTIONS],
        "",
        "settings (key=default  meaning):",
    ]
    # A group is listed by its keys; only `model` is itself a setting (the preset).
    rows = [(f"{k}={_default(cfg, k)}", m or "") for k, _, m, group in schema_fields() if not group or k == "model"]
    pad = min(max(len(a) for a, _ in rows) + 2, 44)
    for a, m in rows:
        wrapped = textwrap.wrap(m, max(30, width - pad - 2)) or [""]
        if len(a) + 2 > pad:
            lines.append(f"  {a}")
            lines += [f"  {'':<{pad}}{w}" for w in wrapped]
        else:
            lines.append(f"  {a:<{pad}}{wrapped[0]}")
            lines += [f"  {'':<{pad}}{w}" for w in wrapped[1:]]
    return "\n".join(lines)


def launch_help() -> str:
    return "\n".join([
        "usage: umeval launch shards=N [address=RAY_ADDRESS] [cpus_per_shard=K] [key=value ...]",
        "",
        "Run N shards of `umeval run` as Ray tasks (as many GPUs each as model.vllm_args.tensor_parallel_size",
        "when the cluster has GPUs; by default a node's cores per GPU for each, with OMP_NUM_THREADS to match),",
        "then the merge step (`umeval run` with the same settings and no shard=).  The settings are those of",
        "`umeval run`; see `umeval run --help`.",
    ])


def doc_help(doc: str | None) -> str:
    """``--help`` text of a command documented by its module docstring.

    The docstring opens with the command line in double backticks (optionally followed by ``: summary``); that
    line becomes ``usage: ...`` and the rest of the docstring follows it.
    """
    head, _, body = (doc or "").strip().partition("\n\n")
    usage, _, summary = head.partition("``:")
    lines = ["usage: " + usage.strip("` \n")]
    if summary.strip():
        lines.append(summary.strip())
    return "\n\n".join(lines + ([body.strip()] if body.strip() else []))


def wants_help(args: list[str]) -> bool:
    return any(a in ("-h", "--help") for a in args)


def console(stderr: bool = False) -> Console:
    """A rich console that never cuts a table to 80 columns when the output is not a terminal.

    On a terminal rich uses its width (and the tables fold long names rather than cut them); otherwise (a
    file, a pipe, a CI log) the width is wide enough for any table, whatever ``$COLUMNS`` an inherited
    environment holds, so tables keep their natural width.
    """
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=400, soft_wrap=False)


def resolved_config_request(args: list[str]) -> tuple[list[str], bool]:
    """Strip ``--cfg`` (optionally followed by ``job``, Hydra's spelling) from the run arguments."""
    out, found, skip = [], False, False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a in ("--cfg", "--print-config"):
            found = True
            skip = i + 1 < len(args) and args[i + 1] == "job"
        elif a == "--cfg=job":
            found = True
        else:
            out.append(a)
    return out, found


def shard_next_step(overrides: list[str], encoded: int) -> str:
    """The last line of a shard run: what it did and the command that merges the shards."""
    shard = next((o.split("=", 1)[1] for o in overrides if o.startswith("shard=")), "?")
    rest = " ".join(o for o in overrides if not o.startswith("shard="))
    return (f"shard {shard} done ({encoded} items encoded; no leaderboard yet). When every shard is done, "
            f"merge them with: umeval run {rest}".rstrip())
