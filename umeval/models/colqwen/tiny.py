"""A tiny random ColQwen2.5, built offline in the real checkpoint's on-disk format.

Like ``vidore/colqwen2.5-v0.2``: the folder holds the processor files (tokenizer, ``preprocessor_config.json``
naming colpali-engine's ``ColQwen2_5_Processor``, so ``AutoProcessor`` cannot load it) and a PEFT LoRA adapter
(``adapter_config.json`` + ``adapter_model.safetensors``, the engine's target expression) whose base, in
``base/``, is a Qwen2.5-VL config and weights saved under the engine's key names (``model.layers.*``,
``visual.*``, ``custom_text_proj.*``).  The adapter's B matrices are random (PEFT's default zeros would make it a
no-op), so a loader that skips it gives other vectors.  Qwen2.5-VL sizes of :mod:`umeval.models.lamra.tiny`,
16-d token vectors in place of 128 (the loader reads ``custom_text_proj``'s size from the base).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

BUILD_VERSION = "3"
DIM = 16
#: colpali-engine's LoRA target expression (scripts/configs/qwen2/train_colqwen2_model.yaml:61 at v0.3.9).
TARGET_MODULES = r"(.*(model).*(down_proj|gate_proj|up_proj|k_proj|q_proj|v_proj|o_proj).*$|.*(custom_text_proj).*$)"
MIN_PIXELS, MAX_PIXELS = 784, 16 * 28 * 28


def build(dest: str | os.PathLike[str], *, seed: int = 0) -> Path:
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file

    from umeval.encoders.qwen2vl import quiet_transformers
    from umeval.models.colqwen.checkpoint import EngineLayout
    from umeval.models.ume_r1 import tiny as tm

    tf: Any = transformers
    quiet_transformers()
    dest = Path(dest)
    tok = tm._train_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in tm.SPECIAL_TOKENS + tm.ADDED_TOKENS}
    vlm = tf.Qwen2_5_VLConfig(
        **tm.language_config(tok, ids),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=128,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[1]),
    )
    torch.manual_seed(seed)
    model = tf.ColQwen2ForRetrieval(tf.ColQwen2Config(vlm_config=vlm.to_dict(), embedding_dim=DIM)).eval()
    view = EngineLayout(model)
    lora = get_peft_model(view, LoraConfig(r=4, lora_alpha=8, target_modules=TARGET_MODULES,
                                           init_lora_weights="gaussian"))
    # A non-zero update (PEFT starts B at zero), at the scale of the weights: at std 0.5 the merged model's residual
    # stream grew to norms of about 2,000 and bf16 lost whole token directions (the GPU smoke's families check).
    for name, p in lora.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    image_processor = tf.Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS,
                                                  size={"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS})

    def save(tmp: Path) -> None:
        lora.save_pretrained(str(tmp))
        cfg = json.loads((tmp / "adapter_config.json").read_text())
        cfg["base_model_name_or_path"] = "base"  # the real one names vidore/colqwen2.5-base on the hub
        (tmp / "adapter_config.json").write_text(json.dumps(cfg, indent=2))
        base = tmp / "base"
        base.mkdir()
        weights = {k: v.detach().clone().contiguous() for k, v in lora.get_base_model().state_dict().items()}
        weights = {k.replace(".base_layer.", "."): v for k, v in weights.items() if "lora_" not in k}
        save_file(weights, base / "model.safetensors", metadata={"format": "pt"})
        (base / "config.json").write_text(json.dumps({**vlm.to_dict(), "architectures": ["ColQwen2_5"]}, indent=2))
        tok.save_pretrained(tmp)
        image_processor.save_pretrained(tmp)
        pre = json.loads((tmp / "preprocessor_config.json").read_text())
        # The real file's layout (transformers 4.50): the bounds at the top level, the engine's processor class.
        pre.update(processor_class="ColQwen2_5_Processor", min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
        (tmp / "preprocessor_config.json").write_text(json.dumps(pre, indent=2))

    return tm.write_build(dest, save, {"version": BUILD_VERSION, "seed": seed})


def ensure(cache_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """The tiny ColQwen2.5 under ``cache_dir/models/``, built once."""
    from umeval.models.ume_r1 import tiny as tm

    dest = Path(cache_dir) / "models" / f"tiny-colqwen2.5-v{BUILD_VERSION}-s{seed}"
    return tm.ensure_built(dest, BUILD_VERSION, lambda: build(dest, seed=seed))
