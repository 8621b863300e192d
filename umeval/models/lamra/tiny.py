"""A tiny random Qwen2.5-VL checkpoint (LamRA-Ret-Qwen2.5VL-7b's architecture), built offline for the tests.

Same tokenizer, chat template and processor layout as :mod:`umeval.models.ume_r1.tiny`'s Qwen2-VL; only the model class
differs (Qwen2.5-VL: windowed vision attention, RMSNorm vision blocks).
"""

from __future__ import annotations

import os
from pathlib import Path

BUILD_VERSION = "1"


def build(dest: str | os.PathLike[str], *, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    from umeval.encoders.qwen2vl import quiet_transformers
    from umeval.models.ume_r1 import tiny as tm

    quiet_transformers()
    dest = Path(dest)
    tok = tm._train_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in tm.SPECIAL_TOKENS + tm.ADDED_TOKENS}
    config = Qwen2_5_VLConfig(
        **tm.language_config(tok, ids),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=128,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[1]),
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    lo, hi = 784, 64 * 28 * 28
    size = {"shortest_edge": lo, "longest_edge": hi}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=lo, max_pixels=hi, size=size),
        video_processor=Qwen2VLVideoProcessor(min_pixels=lo, max_pixels=hi, size=size),
        tokenizer=tok, chat_template=tm.CHAT_TEMPLATE,
    )
    return tm.save_checkpoint(dest, model, processor, {"version": BUILD_VERSION, "seed": seed})


def ensure(cache_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """The tiny Qwen2.5-VL under ``cache_dir/models/``, built once."""
    from umeval.models.ume_r1 import tiny as tm
    dest = Path(cache_dir) / "models" / f"tiny-qwen25vl-v{BUILD_VERSION}-s{seed}"
    return tm.ensure_built(dest, BUILD_VERSION, lambda: build(dest, seed=seed))
