"""ColPali on HF transformers (``ColPaliForRetrieval``): one token matrix per item, for MaxSim.

Items are batched by kind (pages with their image, then text-only queries) up to ``batch_size``; batches are
right-padded and each row keeps only its real positions (attention mask 1), so an item's matrix does not depend on
its batch.  Prompts: :mod:`umeval.models.colpali.prompt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from umeval.core.errors import UmevalError
from umeval.core.multivector import TokenMatrices
from umeval.core.types import Item
from umeval.encoders.base import Advance
from umeval.encoders.prompts import Prompt
from umeval.encoders.qwen2vl import HFCheckpoint, hub_kwargs
from umeval.models.colpali.prompt import IMAGE_TOKEN


class ColPaliEncoder(HFCheckpoint):
    """A late-interaction encoder: :meth:`embed` returns :class:`TokenMatrices` (tokens x 128 per item)."""

    def __init__(self, model_cfg: Any, *, cache_dir: Path, device: str = "auto", batch_size: int = 8,
                 num_workers: int = 0, weights: bool = True) -> None:
        self._open_checkpoint(model_cfg, cache_dir, device, batch_size)
        kw = hub_kwargs(self.model_id, self.revision)
        self._load_checkpoint(lambda: self._load(kw, weights))

    def _load(self, kw: dict[str, Any], weights: bool) -> tuple[Any, Any]:
        """The processor and (when ``weights``) the retrieval model; a subclass loads its own checkpoint format."""
        from transformers import AutoProcessor, ColPaliForRetrieval

        processor = AutoProcessor.from_pretrained(self.model_id, **kw)
        return processor, (ColPaliForRetrieval.from_pretrained(self.model_id, dtype=self.dtype, **kw)
                           if weights else None)

    def _forward(self, enc: Any) -> Any:
        """The batch's token vectors (batch x length x dim) from the inputs of :meth:`prepare`."""
        return self.model(**enc.to(self.device)).embeddings

    def prepare(self, items: Sequence[Item], task: str | None = None,
                prompts: Sequence[Prompt] | None = None, role: str = "query") -> tuple[Any, list[Prompt]]:
        """Prompts, token ids (right-padded) and, for pages, pixel values of one batch of one kind."""
        prompts = list(prompts) if prompts is not None else [self.build_prompt(it, task, role) for it in items]
        if len({bool(p.images) for p in prompts}) > 1:
            raise ValueError("a late-interaction batch holds pages or text-only items, not both")
        enc = self.tokenizer([p.text for p in prompts], padding="longest", padding_side="right",
                             return_tensors="pt")
        # The official (vendored 4.52 PaliGemma) mask at inference: every real token attends to every real token,
        # padded keys masked.  transformers 5.19 gives that only with token_type_ids (all prefix); without them its
        # bidirectional mask lets padding in (a text row's vectors then depend on its batch).
        enc["token_type_ids"] = enc["input_ids"].new_zeros(enc["input_ids"].shape)
        if prompts and prompts[0].images:
            enc["pixel_values"] = self.processor.image_processor([p.images[0] for p in prompts],
                                                                 return_tensors="pt")["pixel_values"]
        return enc, prompts

    def describe_inputs(self, item: Item, *, task: str | None = None, role: str = "query") -> dict[str, Any]:
        """The fields of ``umeval prompts`` for one item: its string, page size, image and input tokens."""
        enc, (prompt,) = self.prepare([item], task, role=role)
        ids = enc["input_ids"][0].tolist()
        size = self.processor.image_processor.size
        image_id = self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        return {"task": task, "role": role, "item_id": item.id, "text": prompt.text,
                "n_images": len(prompt.images), "n_videos": 0,
                "image_sizes": [[int(size["width"]), int(size["height"])]] if prompt.images else [],
                "video_frames": [], "visual_tokens": sum(t == image_id for t in ids), "input_tokens": len(ids),
                "pool_token": "(every token: late interaction)", "pool_index": -1}

    def pool_positions(self, input_ids: Any, attention_mask: Any, prompts: Sequence[Prompt]) -> np.ndarray:
        """Late interaction pools nothing: every real position is kept; reported as the last one."""
        return attention_mask.sum(dim=1).cpu().numpy().astype(np.int64) - 1

    def embed(self, items: Sequence[Item], *, task: str | None = None, role: str = "query",
              advance: Advance | None = None) -> TokenMatrices:
        prompts = [self.build_prompt(it, task, role) for it in items]
        order = sorted(range(len(items)), key=lambda i: (not prompts[i].images, len(prompts[i].text)))
        mats: list[np.ndarray | None] = [None] * len(items)
        start = 0
        while start < len(order):
            kind = bool(prompts[order[start]].images)
            idx = [order[start]]
            while (start + len(idx) < len(order) and len(idx) < self.batch_size
                   and bool(prompts[order[start + len(idx)]].images) == kind):
                idx.append(order[start + len(idx)])
            start += len(idx)
            enc, _ = self.prepare([items[i] for i in idx], task, [prompts[i] for i in idx], role)
            if "pixel_values" in enc:
                enc["pixel_values"] = enc["pixel_values"].to(self.dtype)
            out = self._forward(enc).float().cpu().numpy()
            mask = enc["attention_mask"].cpu().numpy().astype(bool)
            for r, i in enumerate(idx):
                m = out[r][mask[r]]
                if not np.isfinite(m).all() or (np.linalg.norm(m, axis=1) == 0).any():
                    it = items[i]
                    where = f" (file {it.source[0]}, row {it.source[1]})" if it.source else ""
                    raise UmevalError(f"task {task}: a token embedding of item {it.id}{where} is NaN, inf or zero",
                                      "check the checkpoint and its dtype (try dtype=float32)")
                mats[i] = m
            self.calls += len(idx)
            if advance:
                advance(len(idx))
        return TokenMatrices.from_list([m for m in mats if m is not None], dim=self.model.config.embedding_dim)
