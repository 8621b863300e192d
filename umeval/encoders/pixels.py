"""The pixel bounds a Qwen2-VL processor applies, given at every processor call (HF and vLLM alike).

Bounds passed only to ``from_pretrained`` do not hold: a real checkpoint's ``preprocessor_config.json`` has
top-level ``min_pixels``/``max_pixels``, which the image and video processors' constructors apply *over* a
``size`` argument (transformers 5.19 ``Qwen2VLImageProcessor.__init__``; it even rewrites the caller's ``size``
dict in place).  A call-time ``size`` wins over both, so every processor call carries :func:`processor_kwargs`.

Video frames get the same bounds as images: both reference pipelines send videos through their Qwen2-VL
*image* processor (UME-R1 and VLM2Vec ``src/model/vlm_backbone/qwen2_vl/processing_qwen2_vl.py``: ``videos_inputs
= self.image_processor(images=None, videos=videos, ...)``), which resizes each frame alone within the image
bounds and has no whole-video pixel budget.  transformers' video processor would otherwise apply its own
defaults (128*28*28..768*28*28 per frame) and, from v5.22, a whole-video cap (its warning says so); both are
set here explicitly (``cap_pixels_per_frame=False``).  Frames are never re-sampled (``do_sample_frames=False``):
the loader sampled them.
"""

from __future__ import annotations

from typing import Any


def declared_cost(model_cfg: Any) -> Any:
    """The family's token cost bound to this model's bounds, from what the run wrote into ``model.declared``.

    (:func:`umeval.models.family.declare_into`: the cost's class and fields; the encoder never asks the registry.)
    """
    from umeval.core.plugins import load_object

    spec = (getattr(model_cfg, "declared", None) or {}).get("token_cost")
    if not spec:
        from umeval.core.errors import ConfigError

        name = getattr(model_cfg, "name", "?")
        raise ConfigError(f"model {name} has no declared token cost (model.declared is empty)",
                          "build the config with umeval.core.config.compose_config, which fills it from the family")
    return load_object("umeval.models.cost:from_spec")(spec, int(model_cfg.min_pixels), int(model_cfg.max_pixels),
                                                       int(model_cfg.num_frames))


def pixel_size(model_cfg: Any) -> dict[str, int]:
    """A fresh ``size`` dict (callers may mutate it) with the model's min/max pixels per image or frame."""
    return {"shortest_edge": int(model_cfg.min_pixels), "longest_edge": int(model_cfg.max_pixels)}


def call_kwargs(model_cfg: Any, prompts: Any) -> dict[str, Any]:
    """:func:`processor_kwargs` for a batch of prompts.

    No resize when their format resized the media itself (``Prompt.resized``, one family per batch), and the
    videos' metadata when the format gives it.
    """
    kw = processor_kwargs(model_cfg)
    if prompts and all(p.resized for p in prompts):
        kw["images_kwargs"]["do_resize"] = False
        kw["videos_kwargs"]["do_resize"] = False
    meta = [m for p in prompts for m in (p.video_metadata or [])]
    if meta:
        kw["video_metadata"] = meta
    return kw


def processor_kwargs(model_cfg: Any) -> dict[str, Any]:
    """Keyword arguments for every processor call (also vLLM's ``mm_processor_kwargs``)."""
    return {
        "images_kwargs": {"size": pixel_size(model_cfg)},
        "videos_kwargs": {"size": pixel_size(model_cfg), "do_sample_frames": False, "cap_pixels_per_frame": False},
    }
