"""A tiny random Qwen2-VL checkpoint, built offline, for the embedded default and the tests.

It has the UME-R1 layout (Qwen2-VL chat template, ``<disc_emb>`` and ``<gen_emb>`` added tokens) and is
saved with ``save_pretrained`` so that it is loaded through the same ``from_pretrained`` path as a real
checkpoint, by transformers and by vLLM alike.  Sizes follow what vLLM's CPU backend accepts (head_dim 64;
see shared/notes/vllm-cpu.md).  The tokenizer is a byte-level BPE trained on the fly on a small corpus.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUILD_VERSION = "3"  # bump when the checkpoint below changes, so caches rebuild

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]
ADDED_TOKENS = ["<disc_emb>", "<gen_emb>", "<think>", "</think>", "<answer>", "</answer>"]

# The Qwen2-VL chat template, restated: a default system turn, images/videos as
# <|vision_start|><|image_pad|><|vision_end|>, text parts inline, <|im_end|> after each turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = """Represent the given image for classification. Represent the given video for retrieval.
Find a document image that matches the given query. Represent the above input text, images, videos, or any
combination of the three as embeddings. First output the thinking process in think tags and then summarize
the entire input in a word or sentence. Finally, use the tag to represent the entire input.
a photo of a red circle, a blue square, a green triangle, a yellow star, a dog, a cat, a car, a chart.
what is shown in the video? which page answers the question about revenue, energy, health, government?"""


def _train_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast  # type: ignore[attr-defined]  # a lazy export the stubs miss

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([_CORPUS] * 4, trainer=trainer)
    fast = Qwen2TokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                              unk_token=None, bos_token=None)
    fast.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:] + ADDED_TOKENS})
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build(dest: str | os.PathLike[str], *, seed: int = 0, min_pixels: int = 784,
          max_pixels: int = 64 * 28 * 28) -> Path:
    """Write the tiny checkpoint (model, tokenizer, processor) to ``dest`` and return it."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    from umeval.encoders.qwen2vl import quiet_transformers

    quiet_transformers()
    dest = Path(dest)
    tok = _train_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS + ADDED_TOKENS}
    config = Qwen2VLConfig(
        **language_config(tok, ids),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=128, num_heads=2, mlp_ratio=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        do_sample=False, eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"], max_new_tokens=32,
    )
    size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=min_pixels, max_pixels=max_pixels, size=size),
        video_processor=Qwen2VLVideoProcessor(min_pixels=min_pixels, max_pixels=max_pixels, size=size),
        tokenizer=tok, chat_template=CHAT_TEMPLATE,
    )
    return save_checkpoint(dest, model, processor, {"version": BUILD_VERSION, "seed": seed},
                           finish=_real_processor_layout)


def language_config(tok: Any, ids: dict[str, int]) -> dict[str, Any]:
    """The tiny language model and special-token ids shared by the tiny Qwen2-VL and Qwen2.5-VL configs.

    head_dim 64 (hidden 128, 2 heads, 1 KV head): vLLM's CPU attention rejects smaller heads.
    """
    return dict(
        text_config=dict(
            vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [8, 12, 12]},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=False,
        ),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def save_checkpoint(dest: Path, model: Any, processor: Any, build_info: dict[str, Any],
                    finish: Callable[[Path], None] | None = None) -> Path:
    """Save model and processor as one complete build at ``dest`` (:func:`write_build`).

    ``finish`` may rewrite the saved files first.
    """
    def write(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        if finish:
            finish(tmp)

    return write_build(dest, write, build_info)


def write_build(dest: Path, write: Callable[[Path], None], build_info: dict[str, Any]) -> Path:
    """``write(tmp)`` into a temporary folder next to ``dest``, then rename it over ``dest``.

    ``umeval_build.json`` (``build_info``) marks a complete build; an interrupted one leaves ``dest`` as it was.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent if dest.parent.exists() else None))
    try:
        write(tmp)
        (tmp / "umeval_build.json").write_text(json.dumps(build_info))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def ensure_built(dest: Path, version: str, build: Callable[[], Path]) -> Path:
    """``dest`` if a complete build of ``version`` is there, else ``build()``; one builder at a time."""
    import fcntl

    marker = dest / "umeval_build.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:  # concurrent shards build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and json.loads(marker.read_text()).get("version") == version:
            return dest
        return build()


#: The pixel bounds a real Qwen2-VL checkpoint declares at the top of its ``preprocessor_config.json``
#: (Qwen2-VL-2B-Instruct's values).  They differ from every preset's bounds on purpose: transformers applies them
#: over a ``size`` given to ``from_pretrained``, so a backend that does not pass the preset's bounds at call time
#: shows up in the tests with the wrong visual-token counts.
CHECKPOINT_MIN_PIXELS = 3136
CHECKPOINT_MAX_PIXELS = 12845056


def _real_processor_layout(folder: Path) -> None:
    """Rewrite the saved processor files in a real Qwen2-VL checkpoint's layout.

    That is one ``preprocessor_config.json`` with top-level ``min_pixels``/``max_pixels`` (read by the image *and*
    the video processor), and no image/video sections in ``processor_config.json``.
    """
    pc_path = folder / "processor_config.json"
    pc = json.loads(pc_path.read_text())
    image = pc.pop("image_processor")
    pc.pop("video_processor", None)
    pre = {"min_pixels": CHECKPOINT_MIN_PIXELS, "max_pixels": CHECKPOINT_MAX_PIXELS,
           "patch_size": image["patch_size"], "temporal_patch_size": image["temporal_patch_size"],
           "merge_size": image["merge_size"], "image_mean": image["image_mean"], "image_std": image["image_std"],
           "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor"}
    (folder / "preprocessor_config.json").write_text(json.dumps(pre, indent=2) + "\n")
    if set(pc) - {"processor_class"}:
        pc_path.write_text(json.dumps(pc, indent=2) + "\n")
    else:
        pc_path.unlink()


def ensure(cache_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """The tiny checkpoint under ``cache_dir/models/``, built once."""
    dest = Path(cache_dir) / "models" / f"tiny-qwen2vl-v{BUILD_VERSION}-s{seed}"
    return ensure_built(dest, BUILD_VERSION, lambda: build(dest, seed=seed))
