"""``umeval estimate task=<sel> model=<preset> [mode=disc|gen|both] [gen.samples=k] [--gpu h100] [--json]``.

How much a run will push through the model, and about how long it takes, before any weights load.

For each task: the unique queries and candidates (from the data; from the official task sizes when the data is
not there, which the output says), their prompt tokens and, among them, visual tokens.  Visual tokens are the
model family's token cost (``ModelMeta.token_cost``) on each image's header size, with the preset's pixel
bounds and frame count: the processor's own arithmetic.  Text tokens are exact when the model's processor can
be loaded (a local checkpoint or a built tiny one): the family's prompt format is rendered with stand-in media
and tokenised, its placeholders replaced by the visual counts; otherwise ~3 characters per token (``text``
column says ``approx``).  Without data the media sizes are assumed (those of ``python -m umeval.bench gpu_sim``).

In gen mode every query draws ``gen.samples`` traces and every candidate one (``gen.resample_candidates``: as
many); trace lengths are not known before the run: the mean is assumed (``--trace-tokens``, default 400), and
a generative item is prefilled twice (generation, then the ``<gen_emb>`` read-out over prompt and trace).

GPU hours come from the latency model of :mod:`umeval.run.throughput` (each GPU's datasheet figures, the
backbone's sizes, assumed efficiencies): a range from its slow to its fast constants, with the trace mean
doubled and halved.  Printed: per task and in total; ``--json`` gives the same as one JSON object.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from umeval.core.errors import ConfigError, UmevalError
from umeval.core.types import Item

DEFAULT_TRACE_TOKENS = 400


@dataclass
class TaskEstimate:
    task: str
    source: str  # "data" or "official sizes"
    text: str  # "exact" (tokenizer) or "approx"
    queries: int
    candidates: int
    items: int  # generation or pooling requests: queries x samples + candidates x samples (gen)
    prompt_tokens: int  # all requests' prompt tokens, visual included
    visual_tokens: int
    gen_tokens: int = 0  # assumed trace tokens (gen)
    hours: dict[str, float] = field(default_factory=dict)  # low / mid / high


class PromptCounter:
    """Exact prompt tokens of an item: the family's prompt text, tokenised, with its visual tokens."""

    def __init__(self, cfg: DictConfig, cache: Path) -> None:
        from umeval.core.plugins import load_object
        from umeval.models.family import encoder_ref, token_cost

        self.cost = token_cost(cfg.model)
        self.encoder: Any = None
        m = cfg.model
        if not (m.get("builder") or (m.get("path") and Path(str(m.path)).expanduser().is_dir())):
            return  # a hub checkpoint: never reach for the network here; text tokens are approximated
        try:  # the processor only (no weights), as `umeval prompts` builds it
            cls = load_object(encoder_ref(cfg, "hf"))
            self.encoder = cls(cfg.model, cache_dir=cache, device="cpu", num_workers=0, weights=False)
        except (UmevalError, OSError, TypeError, ImportError):
            self.encoder = None  # no processor here (hub checkpoint not downloaded, weight-free family)
        if self.encoder is not None and not hasattr(self.encoder, "prompt_format"):
            self.encoder = None

    @property
    def exact(self) -> bool:
        return self.encoder is not None

    def text_tokens(self, item: Item, role: str) -> int:
        """Prompt tokens besides the visual ones (the placeholders' own tokens left out)."""
        from umeval.models.cost import approx_text_tokens

        if self.encoder is None:
            return approx_text_tokens(item)
        from PIL import Image

        blank = Image.new("RGB", (28, 28), (255, 255, 255))  # stand-in media: the text does not depend on pixels
        n_img = (item.image is not None) + len(item.images)
        videos = [[blank] * max(2, len(item.video))] if item.video else []
        fmt = self.encoder.candidate_format if role == "candidate" and self.encoder.candidate_format \
            else self.encoder.prompt_format
        prompt = fmt(item, [blank] * n_img, videos, self.encoder.processor)
        ids = self.encoder.tokenizer(prompt.text)["input_ids"]
        pads = {self.encoder.tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>")}
        return sum(1 for t in ids if t not in pads)

    def count(self, item: Item, role: str) -> tuple[int, int]:
        """(prompt tokens, visual tokens) of ``item``."""
        visual = self.cost.visual(item)
        return self.text_tokens(item, role) + visual, visual


def estimate(cfg: DictConfig, *, gpu: str = "h100", trace_tokens: int = DEFAULT_TRACE_TOKENS) -> dict[str, Any]:
    """Per task and in total: items, tokens and GPU hours of running ``cfg``; no weights are loaded."""
    from umeval.bench.gpu_sim import workload
    from umeval.core.config import cache_dir
    from umeval.core.registry import resolve_tasks
    from umeval.loaders import LoadContext, load_task
    from umeval.models.family import backbone_of, token_cost, validate_model
    from umeval.run.context import modes_of
    from umeval.run.throughput import BACKBONES, GPUS

    if gpu not in GPUS:
        raise ConfigError(f"--gpu {gpu} is not in the throughput table", f"use one of {', '.join(GPUS)}")
    specs = resolve_tasks(cfg.task)
    validate_model(cfg)
    modes = modes_of(cfg)
    cdir = cache_dir(cfg)
    data_root = Path(cfg.data_root).expanduser() if cfg.data_root else cdir / "MMEB-V2"
    inst_set = str(cfg.instruction_set or cfg.model.instruction_set)
    cost = token_cost(cfg.model)
    counter = PromptCounter(cfg, cdir)
    samples = int(cfg.gen.samples)
    cand_samples = samples if cfg.gen.resample_candidates else 1
    backbone = BACKBONES.get(backbone_of(cfg.model))
    gen_root = None
    if any(s.source.generated for s in specs):
        from umeval.data.embedded import ensure_generated

        gen_root = ensure_generated([s for s in specs if s.source.generated], cdir, seed=cfg.seed)
    rows: list[TaskEstimate] = []
    for mode in modes:
        for spec in specs:
            root = gen_root if spec.source.generated and gen_root else data_root
            ctx = LoadContext(data_root=root, instruction_set=inst_set, limit=cfg.limit,
                              num_frames=int(cfg.model.num_frames), allow_hub=False, spill_dir=cdir / "pages")
            k_q, k_c = (samples, cand_samples) if mode == "gen" else (1, 1)
            try:
                data = load_task(spec, ctx)
            except UmevalError:
                data = None
            if data is not None:
                tot = vis = 0
                n = {}
                for role, items, k in (("query", data.queries, k_q), ("candidate", data.candidates, k_c)):
                    unique = {it.key: it for it in items}
                    n[role] = len(unique)
                    for it in unique.values():
                        p, v = counter.count(it, role)
                        tot, vis = tot + p * k, vis + v * k
                row = TaskEstimate(f"{spec.name} [{mode}]", "data", "exact" if counter.exact else "approx",
                                   n["query"], n["candidate"], n["query"] * k_q + n["candidate"] * k_c, tot, vis)
            else:
                units = [u for u in workload(cost, 1) if u.task == spec.name]
                if not units:
                    raise ConfigError(f"task {spec.name}: no data under {root} and no official size",
                                      "download the data (see README) or set data_root=")
                q, c = units
                row = TaskEstimate(f"{spec.name} [{mode}]", "official sizes", "approx", len(q.prompt),
                                   len(c.prompt), len(q.prompt) * k_q + len(c.prompt) * k_c,
                                   int(q.prompt.sum()) * k_q + int(c.prompt.sum()) * k_c,
                                   int(q.visual.sum()) * k_q + int(c.visual.sum()) * k_c)
            if mode == "gen":
                row.gen_tokens = row.items * trace_tokens
            if backbone is not None:
                row.hours = hours(row, backbone, GPUS[gpu], trace_tokens)
            rows.append(row)
    total = {k: sum(getattr(r, k) for r in rows) for k in ("queries", "candidates", "items", "prompt_tokens",
                                                            "visual_tokens", "gen_tokens")}
    total["hours"] = {lv: sum(r.hours.get(lv, 0.0) for r in rows) for lv in ("low", "mid", "high")} \
        if backbone is not None else {}
    g = GPUS[gpu]
    return {"model": str(cfg.model.name), "gpu": g.name, "gpu_source": g.source,
            "backbone": backbone_of(cfg.model) or None, "backbone_source": backbone.source if backbone else None,
            "trace_tokens_assumed": trace_tokens, "samples": samples, "text_tokens": "exact" if counter.exact
            else "approx", "tasks": [asdict(r) for r in rows], "total": total}


def hours(row: TaskEstimate, backbone: Any, gpu: Any, trace_tokens: int) -> dict[str, float]:
    """GPU hours of one task's requests: low (fast constants, half the traces) to high (slow, double)."""
    from umeval.run.throughput import MAX_BATCHED_TOKENS, MAX_NUM_SEQS, LatencyModel

    out = {}
    for name, level, trace_scale in (("low", 2, 0.5), ("mid", 1, 1.0), ("high", 0, 2.0)):
        lat = LatencyModel.at(gpu, backbone, level)
        prompt, visual = row.prompt_tokens, row.visual_tokens
        secs = lat.prefill_seconds(prompt, visual) + lat.step_overhead * prompt / MAX_BATCHED_TOKENS
        if row.gen_tokens:
            gen = row.gen_tokens * trace_scale
            per = prompt / max(1, row.items) + gen / max(1, row.items)  # KV entries of one sequence at its end
            batch = max(1, min(MAX_NUM_SEQS, lat.kv_capacity_tokens(0.8) // max(1.0, per)))
            step = lat.decode_seconds(int(batch), batch * (prompt / max(1, row.items) + gen / max(1, row.items) / 2))
            secs += gen / batch * (step + lat.step_overhead)
            secs += lat.prefill_seconds(prompt + gen, visual)  # the read-out: prompt and trace again
        out[name] = secs / 3600
    return out


def render(est: dict[str, Any]) -> str:
    """The estimate as a text table, with its assumptions and sources."""
    lines = [f"estimate for {est['model']} on one {est['gpu']} (no weights loaded); text tokens "
             f"{est['text_tokens']}; gen: {est['samples']} sample(s) per query, "
             f"{est['trace_tokens_assumed']} trace tokens assumed per trace"]
    head = f"{'task':<44} {'source':<14} {'queries':>8} {'cands':>8} {'requests':>9} {'prompt tok':>12} " \
           f"{'visual tok':>12} {'gen tok':>10} {'GPU h (low-mid-high)':>22}"
    lines.append(head)

    def hrs(h: dict[str, float]) -> str:
        return f"{h['low']:.2f}-{h['mid']:.2f}-{h['high']:.2f}" if h else "n/a"

    for r in est["tasks"]:
        lines.append(f"{r['task']:<44} {r['source']:<14} {r['queries']:>8} {r['candidates']:>8} {r['items']:>9} "
                     f"{r['prompt_tokens']:>12} {r['visual_tokens']:>12} {r['gen_tokens']:>10} "
                     f"{hrs(r['hours']):>22}")
    t = est["total"]
    lines.append(f"{'total':<44} {'':<14} {t['queries']:>8} {t['candidates']:>8} {t['items']:>9} "
                 f"{t['prompt_tokens']:>12} {t['visual_tokens']:>12} {t['gen_tokens']:>10} {hrs(t['hours']):>22}")
    if any(r["source"] != "data" for r in est["tasks"]):
        lines.append("tasks marked 'official sizes' have no data here: counts from the official v2.0.1 run, media "
                     "sizes assumed (umeval.bench.gpu_sim)")
    lines.append(f"GPU: {est['gpu_source']}")
    if est["backbone_source"]:
        lines.append(f"model: {est['backbone_source']}")
    else:
        lines.append("GPU hours: the family declares no backbone for this preset (Checkpoint.backbone)")
    lines.append("efficiencies assumed: umeval/run/throughput.py (MFU, bandwidth, step overhead)")
    return "\n".join(lines)


def as_comment(cfg: DictConfig) -> str:
    """The estimate as YAML comments, for ``umeval run --cfg job`` (never fails the config print)."""
    try:
        text = render(estimate(cfg))
    except UmevalError as e:
        text = f"estimate unavailable: {e}"
    return "\n".join("# " + line for line in text.splitlines())


def main(args: list[str]) -> int:
    from umeval.commands.help import doc_help, wants_help
    from umeval.core.config import compose_config

    if wants_help(args):
        print(doc_help(__doc__))
        return 0
    gpu, trace, rest, as_json = "h100", DEFAULT_TRACE_TOKENS, [], False
    it = iter(args)
    for a in it:
        if a == "--json":
            as_json = True
        elif a.startswith("--gpu"):
            gpu = a.split("=", 1)[1] if "=" in a else next(it, "")
        elif a.startswith("--trace-tokens"):
            trace = int(a.split("=", 1)[1] if "=" in a else next(it, "0"))
        else:
            rest.append(a)
    est = estimate(compose_config(rest), gpu=gpu.lower(), trace_tokens=trace)
    if as_json:
        json.dump(est, sys.stdout, indent=2)
        print()
    else:
        print(render(est))
    return 0
