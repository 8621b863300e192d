r"""VLM2Vec's input (V2.0 and the V1 Qwen2-VL checkpoints), derived from the official code (VLM2Vec commit 6e1e1d4).

Both generations go through the same ``qwen2_vl`` backbone path of the official ``eval.py``: the parser's text
as it is (``process_input_text``), no chat template, ``Qwen2_VL_process_fn`` (src/model/processor.py:302-374),
last-token pooling with ``--pooling eos --normalize true`` (model.py:105-122).  They differ only in the image
resolution arguments of their eval scripts:

* V2.0 (experiments/public/eval/eval_8gpu.sh): none, so ``resize_use_processor`` keeps its default ``True`` and
  the processor alone resizes, within ``resize_min_pixels``/``resize_max_pixels`` (src/arguments.py:44-46).
* V1 (experiments/public/eval/eval_vlm2vecv1_8gpu.sh): ``--resize_use_processor false --image_resolution high``.
  The collator then resizes every image and frame whose parser gives a resolution to ``RESOLUTION_MAPPING
  ["high"]`` = 1344 x 1344, aspect ratio not kept, before anything else (eval_collator.py:162-163,
  base_eval_dataset.py:38-42); the processor still applies the same min/max pixel bounds after that
  (processor.py:121-134 passes ``size`` whatever ``resize_use_processor`` says), so a square 1344 image becomes
  980 x 980.  The video-QA parsers (activitynetqa, egoschema, mvbench, nextqa, videomme) give their query frames
  the resolution ``None`` (e.g. activitynetqa_dataset.py:65), so those frames keep their size.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from PIL import Image

from umeval.core.errors import DataError
from umeval.core.types import Item
from umeval.encoders.prompt_base import IMAGE_TOKEN, VIDEO_TOKEN, Prompt, join_text

#: ``RESOLUTION_MAPPING["high"]`` (src/data/eval_dataset/base_eval_dataset.py:39), (width, height) for PIL.
V1_RESOLUTION = (1344, 1344)
#: The umeval loader whose official parsers give their frames no resolution (see the module docstring).
NO_RESOLUTION_LOADERS = frozenset({"video_qa"})


def vlm2vec_image(im: Image.Image) -> Image.Image:
    """An image as VLM2Vec's ``Qwen2_VL_process_fn`` hands it to the processor, then RGB as the processor makes it.

    VLM2Vec src/model/processor.py:329-332: an image with a side under 28 pixels is resized to 56x56 (in the
    file's own mode, before any conversion).
    """
    if im.size[0] < 28 or im.size[1] < 28:
        im = im.resize((56, 56))
    return im.convert("RGB")


def vlm2vec(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any) -> Prompt:
    """VLM2Vec-V2: the parser's text as it is, no chat template; the last token is read.

    ``Qwen2_VL_process_fn`` (VLM2Vec src/model/processor.py:302-374) passes the text unchanged to the processor,
    which expands each bare ``<|image_pad|>`` / ``<|video_pad|>`` (no ``<|vision_start|>`` around it) to the
    image's or video's visual tokens; text-only items go in without media (310-312).  Items with a separate
    instruction get one bare placeholder per medium then a space (the ``format_prompt`` layout, 667-671).
    """
    rgb = [vlm2vec_image(im) for im in images]
    clips = [[f.convert("RGB") for f in frames] for frames in videos]  # frames: no 56x56 rule (336)
    if item.instruction:
        vis = (IMAGE_TOKEN + " ") * len(rgb) + (VIDEO_TOKEN + " ") * len(clips)
        return Prompt(text=vis + join_text(item.instruction, item.text), images=rgb, videos=clips)
    text = item.text
    for tok, n in ((IMAGE_TOKEN, len(rgb)), (VIDEO_TOKEN, len(clips))):
        if text.count(tok) != n:
            where = item.source or ("", None)
            raise DataError(f"item {item.id}: its text has {text.count(tok)} {tok} for {n} media",
                            "the loader must write one placeholder per image/video into the text",
                            file=where[0] or None, row=where[1])
    return Prompt(text=text, images=rgb, videos=clips, pool_token=None)


@cache
def _loader_of(task: str) -> str | None:
    from umeval.core.registry import discover_tasks

    tasks = discover_tasks()
    return tasks.get(task).family if task in tasks else None


def v1_keeps_size(task: str | None) -> bool:
    """Whether the official V1 run leaves this task's media at their own size (its parser gives no resolution)."""
    return task is not None and _loader_of(task) in NO_RESOLUTION_LOADERS


def vlm2vec_v1(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any,
               task: str | None = None) -> Prompt:
    """VLM2Vec-V1 (Qwen2-VL): :func:`vlm2vec` after the collator's 1344 x 1344 resize of every image and frame.

    The resize is PIL's ``Image.resize`` in the file's own mode, as the collator calls it; the 56 x 56 rule of
    :func:`vlm2vec_image` then never fires.  Video-QA queries keep their frames' size (no resolution given).
    """
    if not v1_keeps_size(task):
        images = [im.resize(V1_RESOLUTION) for im in images]
        videos = [[f.resize(V1_RESOLUTION) for f in frames] for frames in videos]
    return vlm2vec(item, images, videos, processor)


vlm2vec_v1.wants_task = True  # type: ignore[attr-defined]  # render() passes the task (see encoders.prompts)
