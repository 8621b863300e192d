"""``umeval prompts task=<sel> model=<preset> [model.path=...] [data_root=...] limit=N [--json]``: model inputs.

Exactly what the model receives, per item, without loading weights.

For the first N queries and N candidates of each selected task it shows the prompt string before the processor
expands its placeholders, the number of images and videos, the pixel size each image (and each video's frames)
is resized to, the visual-token and input-token counts, the token whose hidden state is read and the kind of
position ids (1-D for families whose reference code feeds them, else the checkpoint's 3-D rope index).  It goes
through the encoder's own code (:meth:`Qwen2VLEncoder.prepare` and :meth:`~Qwen2VLEncoder.pool_positions` of an
encoder built with ``weights=False``), so what it prints is what ``umeval run`` feeds the model.  With
``model.path=`` a preset's prompt format, pixel bounds and instruction set apply to another checkpoint's
processor (e.g. the tiny one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

#: Items shown per role and task when the command line gives no ``limit=``.
DEFAULT_LIMIT = 2


def item_inputs(encoder: Any, item: Any, *, task: str, role: str) -> dict[str, Any]:
    """One item as the model receives it (see the module docstring for the fields).

    An encoder whose inputs are not Qwen2-VL's (no grid, its own placeholders) describes them itself with a
    ``describe_inputs(item, task=, role=)`` method returning the same fields.
    """
    describe = getattr(encoder, "describe_inputs", None)
    if describe is not None:
        return dict(describe(item, task=task, role=role))
    enc, prompts = encoder.prepare([item], task, role=role)  # a family may write candidates its own way
    (prompt,) = prompts
    ids = enc["input_ids"][0]
    n = int(enc["attention_mask"][0].sum())
    pos = int(encoder.pool_positions(enc["input_ids"], enc["attention_mask"], prompts)[0])
    tok = encoder.tokenizer
    patch = int(encoder.processor.image_processor.patch_size)
    image_sizes = [[int(w) * patch, int(h) * patch] for _, h, w in enc.get("image_grid_thw", [])]
    t_patch = int(getattr(encoder.processor.video_processor, "temporal_patch_size", 2))
    video_frames = [[int(t) * t_patch, int(w) * patch, int(h) * patch] for t, h, w in enc.get("video_grid_thw", [])]
    vis_ids = {tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>")}
    return {
        "task": task, "role": role, "item_id": item.id, "text": prompt.text,
        "n_images": len(prompt.images), "n_videos": len(prompt.videos),
        "image_sizes": image_sizes, "video_frames": video_frames,
        "visual_tokens": int(sum(int(t) in vis_ids for t in ids[:n].tolist())),
        "input_tokens": n, "pool_token": tok.decode([int(ids[pos])]), "pool_index": pos,
        # the position ids the model gets: 1-D 0..n-1 for every token (GME/LamRA, as their reference code), or the
        # checkpoint's 3-D rope index (computed in the model's forward, so not shown without weights)
        "positions": f"1-D 0..{n - 1}" if getattr(encoder, "sequential_positions", False) else "3-D rope",
    }


def prompt_rows(cfg: DictConfig, *, encoder: Any = None) -> list[dict[str, Any]]:
    """The rows of ``umeval prompts`` for a composed config (``encoder``: an already built one, for tests)."""
    from umeval.core.config import cache_dir
    from umeval.core.plugins import load_object
    from umeval.core.registry import resolve_tasks
    from umeval.data.embedded import ensure_generated
    from umeval.loaders import LoadContext, load_task
    from umeval.models.family import encoder_ref

    specs = resolve_tasks(cfg.task)  # unknown names fail here, before the processor loads
    n = int(cfg.limit) if cfg.limit else DEFAULT_LIMIT
    cdir = cache_dir(cfg)
    inst_set = str(cfg.instruction_set or cfg.model.instruction_set)
    data_root = Path(cfg.data_root).expanduser() if cfg.data_root else cdir / "MMEB-V2"
    generated = [s for s in specs if s.source.generated]
    gen_root = ensure_generated(generated, cdir, seed=cfg.seed) if generated else None
    if encoder is None:
        # The HF encoder with weights=False: the same prompts and processor calls as a run on either backend.
        encoder = load_object(encoder_ref(cfg, "hf"))(cfg.model, cache_dir=cdir, device="cpu", num_workers=0,
                                                     weights=False)
    rows: list[dict[str, Any]] = []
    for spec in specs:
        root = gen_root if spec.source.generated and gen_root else data_root
        ctx = LoadContext(data_root=root, instruction_set=inst_set, limit=n, num_frames=int(cfg.model.num_frames),
                          allow_hub=bool(cfg.hub))
        data = load_task(spec, ctx)
        for role, items in (("query", data.queries[:n]), ("candidate", data.candidates[:n])):
            rows += [item_inputs(encoder, it, task=spec.name, role=role) for it in items]
    return rows


def format_row(r: dict[str, Any]) -> str:
    """A readable block: a header line, then the prompt as a JSON string (newlines and spaces visible)."""
    sizes = " ".join(f"{w}x{h}" for w, h in r["image_sizes"])
    frames = " ".join(f"{t}x{w}x{h}" for t, w, h in r["video_frames"])
    media = f"images {r['n_images']}" + (f" [{sizes}]" if sizes else "") + f", videos {r['n_videos']}" \
        + (f" [{frames}]" if frames else "")
    head = (f"== {r['task']} {r['role']} {r['item_id']}: {media}; visual tokens {r['visual_tokens']}; "
            f"input tokens {r['input_tokens']}; pooled {json.dumps(r['pool_token'])} at {r['pool_index']}; "
            f"positions {r.get('positions', '3-D rope')}")
    return head + "\n" + json.dumps(r["text"], ensure_ascii=False)


def main(args: list[str]) -> int:
    from umeval.commands.help import doc_help, wants_help
    from umeval.core.config import compose_config

    if wants_help(args):
        print(doc_help(__doc__))
        return 0
    as_json = "--json" in args
    cfg = compose_config([a for a in args if a != "--json"])
    rows = prompt_rows(cfg)
    if as_json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print("\n".join(format_row(r) for r in rows))
    return 0
