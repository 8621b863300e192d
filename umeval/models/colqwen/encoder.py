"""ColQwen2.5 on HF transformers: the ColPali late-interaction encoder with ColQwen2.5's loading and inputs.

Batching, per-row masking and the token-matrix output are :class:`umeval.models.colpali.encoder.ColPaliEncoder`'s
(one code path for late interaction); this class changes what differs: the checkpoint (a LoRA adapter merged into
its base, :mod:`umeval.models.colqwen.checkpoint`), the processor (Qwen2-VL's, built from the checkpoint's
tokenizer and slow image processor: its ``preprocessor_config.json`` names colpali-engine's processor class, which
``AutoProcessor`` does not know), left padding, per-image pixel rows padded as the engine pads them, and the 3-D
rope positions the engine computes from the ids, the image grid and the attention mask (transformers'
``ColQwen2ForRetrieval`` calls the backbone without ids, which would fall back to plain 1-D positions).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from umeval.core.types import Item
from umeval.encoders.pixels import pixel_size
from umeval.encoders.prompts import Prompt
from umeval.models.colpali.encoder import ColPaliEncoder
from umeval.models.colqwen.checkpoint import load_merged, local_folder
from umeval.models.colqwen.prompt import IMAGE_TOKEN

log = logging.getLogger(__name__)


class ColQwen25Encoder(ColPaliEncoder):
    """A late-interaction encoder: :meth:`embed` returns ``TokenMatrices`` (tokens x 128 per item)."""

    def _load(self, kw: dict[str, Any], weights: bool) -> tuple[Any, Any]:
        import transformers

        tf: Any = transformers  # lazy exports the type checker does not see
        folder = local_folder(self.model_id, kw.get("revision"))
        # The engine's processor at transformers 4.50 loaded the slow (PIL) Qwen2-VL image processor.
        image_processor = tf.Qwen2VLImageProcessorPil.from_pretrained(folder)
        self.checkpoint_pixels = _checkpoint_bounds(folder)
        preset = {"min_pixels": self.cfg.min_pixels, "max_pixels": self.cfg.max_pixels}
        differ = {k: v for k, v in self.checkpoint_pixels.items() if v is not None and v != preset[k]}
        if differ:  # the preset's bounds are applied (they are in the store key); say where they part
            log.warning("%s states %s; the preset applies %s (set model.min_pixels / model.max_pixels to follow "
                        "the checkpoint)", folder / "preprocessor_config.json", differ, preset)
        processor = tf.Qwen2VLProcessor(image_processor=image_processor,
                                        tokenizer=tf.AutoTokenizer.from_pretrained(folder),
                                        video_processor=tf.Qwen2VLVideoProcessor())
        return processor, (load_merged(folder, self.dtype) if weights else None)

    def prepare(self, items: Sequence[Item], task: str | None = None,
                prompts: Sequence[Prompt] | None = None, role: str = "query") -> tuple[Any, list[Prompt]]:
        """Prompts, left-padded token ids and, for pages, pixel rows padded per image (one kind per batch)."""
        import torch

        prompts = list(prompts) if prompts is not None else [self.build_prompt(it, task, role) for it in items]
        if len({bool(p.images) for p in prompts}) > 1:
            raise ValueError("a late-interaction batch holds pages or text-only items, not both")
        texts = [p.text for p in prompts]
        if not (prompts and prompts[0].images):
            enc = self.tokenizer(texts, padding="longest", padding_side="left", return_tensors="pt")
            enc["mm_token_type_ids"] = torch.zeros_like(enc["input_ids"])
            return enc, prompts
        enc = self.processor(text=texts, images=[p.images[0] for p in prompts], padding="longest",
                             padding_side="left", return_tensors="pt",
                             images_kwargs={"size": pixel_size(self.cfg)})
        rows = (enc["image_grid_thw"][:, 1] * enc["image_grid_thw"][:, 2]).tolist()
        enc["pixel_values"] = torch.nn.utils.rnn.pad_sequence(list(torch.split(enc["pixel_values"], rows)),
                                                              batch_first=True)
        return enc, prompts

    def _forward(self, enc: Any) -> Any:
        enc["position_ids"], _ = self.model.vlm.get_rope_index(
            enc["input_ids"], enc.pop("mm_token_type_ids"), image_grid_thw=enc.get("image_grid_thw"),
            attention_mask=enc["attention_mask"])
        return super()._forward(enc)

    def describe_inputs(self, item: Item, *, task: str | None = None, role: str = "query") -> dict[str, Any]:
        """The fields of ``umeval prompts`` for one item: its string, page size, image and input tokens."""
        enc, (prompt,) = self.prepare([item], task, role=role)
        ids = enc["input_ids"][0].tolist()
        patch = int(self.processor.image_processor.patch_size)
        sizes = ([[int(enc["image_grid_thw"][0][2]) * patch, int(enc["image_grid_thw"][0][1]) * patch]]
                 if prompt.images else [])
        image_id = self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        visual = sum(t == image_id for t in ids)
        return {"task": task, "role": role, "item_id": item.id, "text": prompt.text,
                "n_images": len(prompt.images), "n_videos": 0, "image_sizes": sizes, "video_frames": [],
                "visual_tokens": visual, "input_tokens": len(ids),
                "pool_token": "(every token: late interaction)", "pool_index": -1}


def _checkpoint_bounds(folder: Any) -> dict[str, Any]:
    """``min_pixels``/``max_pixels`` as the checkpoint's ``preprocessor_config.json`` states them (None: absent)."""
    import json
    from pathlib import Path

    path = Path(folder) / "preprocessor_config.json"
    pre = json.loads(path.read_text()) if path.is_file() else {}
    return {"min_pixels": pre.get("min_pixels"), "max_pixels": pre.get("max_pixels")}
