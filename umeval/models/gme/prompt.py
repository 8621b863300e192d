r"""GME's input, derived from the official baseline code (VLM2Vec commit 6e1e1d4).

What reaches GME in the official MMEB-V2 evaluation:

* **Text.** The parsers call ``process_input_text`` with the GME backbone, which returns ``instruction + " " +
  text`` with no image or video token (src/model/processor.py:655-659); the Qwen2-VL backbone instead gets
  ``token + " " + instruction [+ " " + text]`` (processor.py:663-671).  Everything else a parser does to the
  string (e.g. ``.replace(" \n", "\n") + "\n"``, image_cls_dataset.py:18-20) is the same for both, so the
  loader's Qwen text becomes GME's by removing the placeholder and the one space after it
  (:func:`baseline_text`).  Placeholders a parser writes for every backbone stay, as literal tokens
  (``Item.literal_placeholders``): the video-QA parsers call ``process_query(..., video_token=
  VLM_VIDEO_TOKENS[backbone])``, ``"<|video_pad|>"`` for GME and LamRA too (processor.py:74-86,
  mvbench_dataset.py:116, videomme_dataset.py:32, nextqa_dataset.py:33, egoschema_dataset.py:32,
  activitynetqa_dataset.py:36), and image_t2i_eval.py:18 turns a query instruction's ``<|image_1|>`` into
  ``VLM_IMAGE_TOKENS[backbone]``, ``"<|image_pad|>"`` for them too.  ``model.py:77`` then removes every
  ``"<|image_pad|>\n"``; other literal placeholders reach the model as one token each (no media behind it).
* **Media.** One image per item; a list of images or a video's frames gives its middle one ``[len // 2]``
  (model.py:79-86).  Each image goes through the file's ``fetch_image`` copy: RGB conversion, then a resize to
  multiples of 28 within 3,136..12,845,056 pixels (gme_inference.py:225-228, 280-319); the processor then
  applies the eval's bounds, ``resize_min_pixels=3136``/``resize_max_pixels=1003520`` (src/arguments.py:45-46,
  given as ``size`` to the vendored processor, processor.py:121-134, which lets ``size`` win,
  vlm_backbone/qwen2_vl/image_processing_qwen2_vl.py:150-161).
* **Prompt.** ``get_fused_embeddings(texts, images)`` is called with no ``instruction`` and no ``is_query``
  (model.py:87), so queries and candidates alike get the default system turn "You are a helpful assistant."
  (gme_inference.py:54, 120-121): ``<|im_start|>system\n{sys}<|im_end|>\n<|im_start|>user\n`` +
  (``<|vision_start|><|image_pad|><|vision_end|>`` if an image) + text +
  ``<|im_end|>\n<|im_start|>assistant\n<|endoftext|>`` (gme_inference.py:122-131), written literally, not by the
  chat template.
* **Pooling.** Left padding, last position: the final ``<|endoftext|>``, L2-normalised (gme_inference.py:53,
  101-113).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from umeval.core.types import Item
from umeval.encoders.prompt_base import IMAGE_TOKEN, VIDEO_TOKEN, Prompt

#: gme_inference.py:54 (and lamra_inference.py:52): the system turn every input gets in the MMEB-V2 eval.
DEFAULT_SYSTEM = "You are a helpful assistant."
#: The pre-resize of the file's own ``fetch_image`` (gme_inference.py:226-227; lamra_inference.py the same).
FETCH_MIN_PIXELS = 4 * 28 * 28
FETCH_MAX_PIXELS = 16384 * 28 * 28
GME_END = "<|endoftext|>"


def baseline_text(item: Item) -> str:
    r"""The text GME and LamRA receive: the loader's Qwen text without its placeholder and the space after it.

    Where the official parser got no text (``item.no_text_at``), ``process_input_text`` returns
    ``instruction + " "`` for these backbones (processor.py:656-659): the space goes where the instruction ends,
    before anything the parser appends (e.g. the ``"\n"`` of image candidates).
    """
    if item.instruction:
        return f"{item.instruction} {item.text}" if item.text else f"{item.instruction} "
    text, cut = item.text, item.no_text_at
    for tok in () if item.literal_placeholders else (IMAGE_TOKEN, VIDEO_TOKEN):
        at = text.find(tok)
        if at >= 0:
            end = at + len(tok)
            if text[end: end + 1] == " ":
                end += 1
            text = text[:at] + text[end:]
            if cut is not None and cut > at:
                cut -= end - at
    text = text if cut is None else f"{text[:cut]} {text[cut:]}"
    return text.replace(IMAGE_TOKEN + "\n", "")  # model.py:77, on the text these backbones receive


def baseline_image(images: list[Image.Image], videos: list[list[Image.Image]]) -> Image.Image | None:
    """The one image the baseline sees (the middle frame of a video), pre-resized as its ``fetch_image``."""
    from qwen_vl_utils import smart_resize

    if images:  # several images: the middle one, as for frames (model.py:81-82 takes the list's middle)
        im = images[len(images) // 2]
    elif videos and videos[0]:
        im = videos[0][len(videos[0]) // 2]
    else:
        return None
    im = im.convert("RGB")
    h, w = smart_resize(im.height, im.width, factor=28, min_pixels=FETCH_MIN_PIXELS, max_pixels=FETCH_MAX_PIXELS)
    return im.resize((w, h))


def gme(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any) -> Prompt:
    """GME's prompt string (one literal layout for queries and candidates); the last token is read."""
    image = baseline_image(images, videos)
    vision = "<|vision_start|><|image_pad|><|vision_end|>" if image is not None else ""
    text = (f"<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>\n<|im_start|>user\n{vision}{baseline_text(item)}"
            f"<|im_end|>\n<|im_start|>assistant\n{GME_END}")
    return Prompt(text=text, images=[image] if image is not None else [], videos=[], pool_token=None)
