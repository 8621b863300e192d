"""Loading a ColQwen2.5 checkpoint as the authors publish it: a PEFT LoRA adapter on a base model, merged.

``vidore/colqwen2.5-v0.2`` holds the processor files and a LoRA adapter (``adapter_config.json``,
``adapter_model.safetensors``) whose ``base_model_name_or_path`` is ``vidore/colqwen2.5-base``: Qwen2.5-VL-3B
with the 128-d ``custom_text_proj``, saved by colpali-engine's ``ColQwen2_5`` (a subclass of transformers 4.50's
``Qwen2_5_VLForConditionalGeneration``), so its keys read ``model.layers.*`` (language model), ``visual.*``,
``custom_text_proj.*`` and ``lm_head.*``.  The adapter targets ``model.*`` attention/MLP projections and
``custom_text_proj`` by a regular expression over those module names.

umeval runs the model in transformers' own ``ColQwen2ForRetrieval``, whose ``vlm_config`` takes a Qwen2.5-VL
config (``AutoModel`` builds ``Qwen2_5_VLModel``) and whose forward is the engine's: pixel rows unpadded per
``image_grid_thw``, last hidden state, ``Linear(hidden, 128)``, L2 per token, times the attention mask.  Loading:

1. the base's weights into that class under a key mapping (``model.`` -> ``vlm.language_model.``, ``visual.`` ->
   ``vlm.visual.``, ``custom_text_proj`` -> ``embedding_proj_layer``; ``lm_head`` unused by retrieval);
2. PEFT loads the adapter onto :class:`EngineLayout`, a view that names the *same* modules as the engine did
   (``model``, ``visual``, ``custom_text_proj``), so the adapter's target expression and keys match exactly as
   they did in the engine (the vision MLPs, named ``visual.*``, stay untouched as there), and
   ``merge_and_unload`` folds ``W + (alpha/r) B A`` into the shared weights.

Why merge rather than keep PEFT's LoRA layers at inference (the engine keeps them): the same function up to
rounding, one set of weights, and the model stays the library class the rest of umeval calls.  Why not write the
merge by hand: PEFT reads the adapter's own settings (rank, alpha, rsLoRA, target expression) as it was saved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from umeval.core.errors import ConfigError

#: The base-checkpoint keys as colpali-engine's ColQwen2_5 saved them -> ColQwen2ForRetrieval's names.
BASE_KEY_MAPPING = {r"^model\.": "vlm.language_model.", r"^visual\.": "vlm.visual.",
                    r"^custom_text_proj\.": "embedding_proj_layer."}


def _torch_module() -> Any:
    from torch import nn

    return nn.Module


class EngineLayout(_torch_module()):  # type: ignore[misc]  # nn.Module, imported lazily (listing imports no torch)
    """The retrieval model's modules under the names colpali-engine's ColQwen2_5 gave them (no copy: shared)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model.vlm.language_model
        self.visual = model.vlm.visual
        self.custom_text_proj = model.embedding_proj_layer


def local_folder(model_id: str, revision: str | None) -> Path:
    """``model_id`` as a local folder: itself, or its hub snapshot at ``revision`` (downloaded if missing)."""
    if Path(model_id).is_dir():
        return Path(model_id)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(model_id, revision=revision or "main"))


def adapter_base(adapter_dir: Path) -> tuple[str, str | None]:
    """The base checkpoint an adapter folder names (a folder relative to it, or a hub id) and its revision."""
    path = adapter_dir / "adapter_config.json"
    if not path.is_file():
        raise ConfigError(f"{adapter_dir} has no adapter_config.json: not a ColQwen2.5 adapter checkpoint",
                          "point model.path at the adapter (e.g. vidore/colqwen2.5-v0.2), not at its base")
    cfg = json.loads(path.read_text())
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"{path}: no base_model_name_or_path", "the adapter must name its base checkpoint")
    rel = adapter_dir / base
    return (str(rel), None) if rel.is_dir() else (str(base), cfg.get("revision"))


def projection_dim(base_dir: Path) -> int:
    """Rows of the base's ``custom_text_proj`` (128 in colpali-engine's ColQwen2_5: modeling_colqwen2_5.py:24)."""
    from safetensors import safe_open

    for f in sorted(base_dir.glob("*.safetensors")):
        with safe_open(str(f), "pt") as st:
            if "custom_text_proj.weight" in st.keys():  # noqa: SIM118  # safe_open has keys(), no __contains__
                return int(st.get_slice("custom_text_proj.weight").get_shape()[0])
    raise ConfigError(f"base checkpoint {base_dir} has no custom_text_proj.weight",
                      "the base must be a colpali-engine ColQwen2_5 save (e.g. vidore/colqwen2.5-base)")


def load_merged(adapter_dir: Path, dtype: Any, *, with_adapter: bool = True) -> Any:
    """``ColQwen2ForRetrieval`` with the base weights and the adapter merged (``with_adapter=False``: base only)."""
    import transformers
    from peft import PeftModel

    tf: Any = transformers  # lazy exports the type checker does not see
    base, base_rev = adapter_base(adapter_dir)
    base_dir = local_folder(base, base_rev)
    config = tf.ColQwen2Config(vlm_config=tf.AutoConfig.from_pretrained(base_dir).to_dict(),
                               embedding_dim=projection_dim(base_dir))
    model, info = tf.ColQwen2ForRetrieval.from_pretrained(base_dir, config=config, dtype=dtype,
                                                          key_mapping=BASE_KEY_MAPPING, output_loading_info=True)
    if info["missing_keys"]:  # transformers only warns and leaves them random
        raise ConfigError(f"base checkpoint {base}: {len(info['missing_keys'])} weights missing "
                          f"(e.g. {sorted(info['missing_keys'])[0]})",
                          "the base must be a colpali-engine ColQwen2_5 save (model.*, visual.*, custom_text_proj.*)")
    if with_adapter:
        PeftModel.from_pretrained(EngineLayout(model), str(adapter_dir)).merge_and_unload()
    return model.eval()
