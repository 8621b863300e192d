"""A tiny random Qwen2.5-VL checkpoint (LamRA-Ret-Qwen2.5VL-7b's architecture), built offline for the tests.

Same tokenizer, chat template and processor layout as :mod:`umeval.tiny_model`'s Qwen2-VL; only the model class
differs (Qwen2.5-VL: windowed vision attention, RMSNorm vision blocks).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
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

    from umeval import tiny_model as tm
    from umeval.encoders.qwen2vl import quiet_transformers

    quiet_transformers()
    dest = Path(dest)
    tok = tm._train_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in tm.SPECIAL_TOKENS + tm.ADDED_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [8, 12, 12]},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=False,
        ),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=128,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[1]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
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
    tmp = Path(tempfile.mkdtemp(prefix=".tiny25-", dir=dest.parent if dest.parent.exists() else None))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        (tmp / "umeval_build.json").write_text(json.dumps({"version": BUILD_VERSION, "seed": seed}))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def ensure(cache_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """The tiny Qwen2.5-VL under ``cache_dir/models/``, built once."""
    import fcntl

    dest = Path(cache_dir) / "models" / f"tiny-qwen25vl-v{BUILD_VERSION}-s{seed}"
    marker = dest / "umeval_build.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and json.loads(marker.read_text()).get("version") == BUILD_VERSION:
            return dest
        return build(dest, seed=seed)
