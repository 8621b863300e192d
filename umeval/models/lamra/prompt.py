r"""LamRA-Ret's input, derived from the official baseline code (VLM2Vec commit 6e1e1d4).

LamRA is fed like GME in the MMEB-V2 eval (same text and media, see :mod:`umeval.models.gme.prompt`; its
files ``lamra_inference.py`` and ``lamra_qwen25_inference.py`` differ only in the model and processor classes):

* **Messages** (lamra_inference.py:55-103): text and image: one user turn ``[image, text]``; text only: the text
  followed by ``"\n"``; image only: ``"\nSummarize above image in one word: "`` (never reached from the eval,
  whose texts are always strings, model.py:87).  Then an assistant turn ``"<emb>."``.
* **Prompt**: the checkpoint's chat template with ``add_generation_prompt=True`` (lamra_inference.py:177), so
  the string ends ``<emb>.<|im_end|>\n<|im_start|>assistant\n``; the template's default system turn is used
  for queries and candidates alike (no instruction reaches it).
* **Pooling**: left padding, last position (the ``"\n"`` after the final ``assistant``), L2-normalised
  (lamra_inference.py:51, 149-160).
* **Pixels**: ``fetch_image`` as GME, then the processor LamRA loads itself with ``size`` 256*28*28..1280*28*28
  (lamra_inference.py:45-50) for the Qwen2-VL model.  The Qwen2.5-VL model's vendored image processor ignores
  ``size`` (vlm_backbone/qwen2_5_vl/image_processing_qwen2_5_vl.py:189-209) and keeps the checkpoint's
  ``min_pixels``/``max_pixels``.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from umeval.core.types import Item
from umeval.encoders.prompt_base import Prompt
from umeval.models.gme.prompt import baseline_image, baseline_text

EMB_ANSWER = "<emb>."


def lamra(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any) -> Prompt:
    image = baseline_image(images, videos)
    text = baseline_text(item)
    if image is not None:
        content: list[dict[str, Any]] = [{"type": "image"}, {"type": "text", "text": text}]
    else:
        content = [{"type": "text", "text": text + "\n"}]
    messages = [{"role": "user", "content": content},
                {"role": "assistant", "content": [{"type": "text", "text": EMB_ANSWER}]}]
    rendered = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return Prompt(text=rendered, images=[image] if image is not None else [], videos=[], pool_token=None)
