"""A tiny random ColPali checkpoint, built offline for the tests.

PaliGemma architecture (SigLIP vision tower, Gemma decoder), 16-d token vectors.  The tokenizer is a small BPE
trained here with Gemma's special tokens (``<pad>`` 0, ``<eos>`` 1, ``<bos>`` 2, ``<unk>`` 3, ``<image>``; no
``<bos>`` added by the tokenizer itself); 4 image tokens per image (a 28x28 image of 14x14 patches) instead of
PaliGemma-448's 1,024.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BUILD_VERSION = "1"
IMAGE_SEQ_LENGTH = 4
_SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<image>"]
_CORPUS = ("Query: Describe the image. Find a document image that matches the given query: what is the revenue "
           "in 2019? A photo of a cat on a red mat. Represent the given image with the following question.\n")


def _tokenizer() -> Any:
    import transformers
    from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers

    tf: Any = transformers  # the lazy module's names are not all visible to the type checker

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=False))
    tok.normalizer = normalizers.Replace(" ", "\u2581")  # SentencePiece's word marker, as Gemma's tokenizer
    tok.decoder = decoders.Replace("\u2581", " ")
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;?!'\"-\n\u2581")
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=_SPECIAL, initial_alphabet=alphabet,
                                  show_progress=False)
    tok.train_from_iterator([_CORPUS] * 4, trainer=trainer)
    bos = tok.token_to_id("<bos>")
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A $B",
                                                       special_tokens=[("<bos>", bos)])
    return tf.GemmaTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                              unk_token="<unk>", extra_special_tokens={"image_token": "<image>"})


def build(dest: str | os.PathLike[str], *, seed: int = 0) -> Path:
    import torch
    import transformers

    tf: Any = transformers  # config classes take their fields as keywords the type checker does not see
    ColPaliConfig, ColPaliForRetrieval, ColPaliProcessor = tf.ColPaliConfig, tf.ColPaliForRetrieval, tf.ColPaliProcessor
    PaliGemmaConfig, SiglipImageProcessor = tf.PaliGemmaConfig, tf.SiglipImageProcessor

    from umeval.encoders.qwen2vl import quiet_transformers
    from umeval.models.ume_r1 import tiny as tm

    quiet_transformers()
    dest = Path(dest)
    tok = _tokenizer()
    image_id = tok.convert_tokens_to_ids("<image>")
    vlm = PaliGemmaConfig(
        text_config=dict(model_type="gemma", vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                         pad_token_id=0, eos_token_id=1, bos_token_id=2),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64,
                           num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14,
                           projection_dim=32),
        image_token_id=image_id, projection_dim=32, hidden_size=32, vocab_size=len(tok),
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )
    vlm.text_config.num_image_tokens = IMAGE_SEQ_LENGTH
    vlm.vision_config.num_image_tokens = IMAGE_SEQ_LENGTH
    config = ColPaliConfig(vlm_config=vlm, embedding_dim=16)
    torch.manual_seed(seed)
    model = ColPaliForRetrieval(config).eval()
    image_processor = SiglipImageProcessor(size={"height": 28, "width": 28}, image_mean=[0.5] * 3,
                                           image_std=[0.5] * 3, resample=3)
    image_processor.image_seq_length = IMAGE_SEQ_LENGTH
    processor = ColPaliProcessor(image_processor=image_processor, tokenizer=tok)
    return tm.save_checkpoint(dest, model, processor, {"version": BUILD_VERSION, "seed": seed})


def ensure(cache_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """The tiny ColPali under ``cache_dir/models/``, built once."""
    from umeval.models.ume_r1 import tiny as tm

    dest = Path(cache_dir) / "models" / f"tiny-colpali-v{BUILD_VERSION}-s{seed}"
    return tm.ensure_built(dest, BUILD_VERSION, lambda: build(dest, seed=seed))
