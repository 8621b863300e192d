"""A tiny random Qwen3-VL checkpoint (Qwen3-VL-Embedding's architecture), built offline for the tests.

Built from the config classes (no hub): the tokenizer of :mod:`umeval.models.ume_r1.tiny` (Qwen special tokens),
a Qwen3-VL-style chat template (system turn from the messages, vision parts as
``<|vision_start|><|image_pad|><|vision_end|>``), 16-pixel patches merged 2 x 2 (32-pixel blocks, as the real
model), deepstack on the vision encoder's one layer, head_dim 64 (what vLLM's CPU attention accepts), images and videos
normalised with mean = std = 0.5 (Qwen3-VL's processor configuration).
"""

from __future__ import annotations

import os
from pathlib import Path

BUILD_VERSION = "2"  # 2: the image processor normalises with mean = std = 0.5, as the video one

#: The Qwen3-VL chat template's layout, restated: each message ``<|im_start|>{role}\n`` + its parts +
#: ``<|im_end|>\n`` (a system message's text part included), images and videos as vision blocks, then the
#: assistant header for a generation prompt.  No default system turn (Qwen3-VL has none).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build(dest: str | os.PathLike[str], *, seed: int = 0) -> Path:
    import torch
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    from umeval.encoders.qwen2vl import quiet_transformers
    from umeval.models.ume_r1 import tiny as tm

    quiet_transformers()
    dest = Path(dest)
    tok = tm._train_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    ids = {t: tok.convert_tokens_to_ids(t) for t in tm.SPECIAL_TOKENS}
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [8, 12, 12],
                             "mrope_interleaved": True},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=False,
        ),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=128,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=64,
                           deepstack_visual_indexes=[0]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config).eval()
    lo, hi = 4 * 32 * 32, 256 * 32 * 32
    # Qwen3-VL's preprocessor_config.json normalises images as its video processor does (mean = std = 0.5), not
    # with the Qwen2-VL image processor's CLIP defaults; vLLM normalises videos with the image processor's values.
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(patch_size=16, merge_size=2, temporal_patch_size=2,
                                              size={"shortest_edge": lo, "longest_edge": hi},
                                              image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]),
        video_processor=Qwen3VLVideoProcessor(patch_size=16, merge_size=2, temporal_patch_size=2,
                                              size={"shortest_edge": lo, "longest_edge": hi}),
        tokenizer=tok, chat_template=CHAT_TEMPLATE,
    )
    return tm.save_checkpoint(dest, model, processor, {"version": BUILD_VERSION, "seed": seed})


def ensure(cache_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """The tiny Qwen3-VL under ``cache_dir/models/``, built once."""
    from umeval.models.ume_r1 import tiny as tm

    dest = Path(cache_dir) / "models" / f"tiny-qwen3vl-v{BUILD_VERSION}-s{seed}"
    return tm.ensure_built(dest, BUILD_VERSION, lambda: build(dest, seed=seed))
