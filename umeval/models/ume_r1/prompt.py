r"""UME-R1's input, derived from the authors' evaluation (UME-R1 src/eval/VLM2Vec/src/data/collator/eval_collator.py).

One user turn for queries and candidates, disc and gen alike: the visual part first, then the item's text,
``"\n<disc_emb>\n"`` and the generation prompt; the checkpoint's chat template and the assistant header.  The
discriminative embedding is read at the last ``<disc_emb>``; the generative one after the generated trace.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from umeval.core.types import Item
from umeval.encoders.prompt_base import DISC_TOKEN, GEN_TOKEN, IMAGE_TOKEN, VIDEO_TOKEN, Prompt, join_text

__all__ = ["DISC_TOKEN", "GEN_TOKEN", "UME_R1_GEN_PROMPT", "ume_r1", "ume_r1_body"]

#: UME-R1's generation prompt, placed after ``<disc_emb>`` in every input, query or candidate, disc or gen
#: (``GENERATION_PROMPT``, UME-R1 src/eval/VLM2Vec/src/data/collator/eval_collator.py:21).
UME_R1_GEN_PROMPT = (
    "Represent the above input text, images, videos, or any combination of the three as embeddings. "
    "First output the thinking process in <think> </think> tags and then summarize the entire input in a word "
    "or sentence. Finally, use the <gen_emb> tag to represent the entire input."
)


def _blank_image_url() -> str:
    """The authors' text-only stand-in: a white 28x28 RGB JPEG as a base64 data URL (eval_collator.py:282-286)."""
    buf = io.BytesIO()
    Image.new("RGB", (28, 28), (255, 255, 255)).save(buf, format="JPEG")
    return "data:image;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def ume_r1_body(item: Item, n_images: int, n_videos: int) -> str:
    r"""The text of UME-R1's user turn before ``"\n<disc_emb>\n"``.

    The authors' collator (UME-R1 src/eval/VLM2Vec/src/data/collator/eval_collator.py) removes the image token
    from an image item's text and strips it (217-229), removes the video token from a video item's text and
    strips it (243-257), and removes both tokens from a text-only item's text and strips it (280-298; a
    text-only side is ``[None]``, never an image dict, in every parser of that repository).
    """
    if item.instruction:
        return join_text(item.instruction, item.text)
    tokens = (IMAGE_TOKEN,) if n_images else (VIDEO_TOKEN,) if n_videos else (VIDEO_TOKEN, IMAGE_TOKEN)
    text = item.text
    for tok in tokens:
        text = text.replace(tok, "")
    return text.strip()


def ume_r1(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any,
           options: dict[str, Any] | None = None) -> Prompt:
    r"""UME-R1's prompt, for queries and candidates, disc and gen alike.

    One user turn: the visual part first (``{"type": "image"}`` or ``{"type": "video"}``), then the text
    :func:`ume_r1_body` ``+ "\n<disc_emb>\n" +`` generation prompt; the checkpoint's chat template (default
    system turn) and the assistant header.  Media go through ``qwen_vl_utils`` itself, as the authors'
    ``process_vision_info`` call does (eval_collator.py:324) with no pixel arguments in the message: each image
    by ``fetch_image`` (RGBA pasted on white, then resized to 3,136..12,845,056 pixels in multiples of 28), each
    video, a list of frame files, by ``fetch_video`` (every frame through ``fetch_image``, an odd count padded by
    repeating the last frame).  A text-only item gets the authors' blank 28x28 JPEG, which ``fetch_image`` makes
    56x56, i.e. 4 visual tokens.  The processor then applies the model's pixel bounds (784..2,359,296 for the
    UME-R1 presets) to images and frames alike.  The disc embedding is read at the last ``<disc_emb>``; with
    ``model.options.disc_readout=paper`` at the token after it (the ``"\n"``), as the authors' evaluation did
    for the published disc and oracle numbers (Kikcer/lume 08891de eval_twomode.py:39-57: the position after the
    last ``<disc_emb>``, or the last token when that is at or past the end).
    """
    from qwen_vl_utils import fetch_image, fetch_video

    body = ume_r1_body(item, len(images), len(videos))
    rgb = [fetch_image({"image": im}) for im in images]
    clips = [fetch_video({"type": "video", "video": list(frames)}) for frames in videos]
    if not rgb and not clips:
        rgb = [fetch_image({"image": _blank_image_url()})]
    parts: list[dict[str, Any]] = [{"type": "image"} for _ in rgb] + [{"type": "video"} for _ in clips]
    parts.append({"type": "text", "text": f"{body}\n{DISC_TOKEN}\n{UME_R1_GEN_PROMPT}"})
    text = processor.apply_chat_template([{"role": "user", "content": parts}], tokenize=False,
                                         add_generation_prompt=True)
    paper = (options or {}).get("disc_readout") == "paper"
    return Prompt(text=text, images=rgb, videos=clips, pool_token=DISC_TOKEN, pool_after=1 if paper else 0)
