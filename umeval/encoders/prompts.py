r"""Prompt formats: how a model family wants an item written.  Tasks never see these.

A format turns an :class:`Item` (its text, and the media decoded in their own mode) into the prompt string the
processor tokenises (placeholders not yet expanded), the media in prompt order exactly as the processor receives
them, and the token whose hidden state is the embedding.

Two kinds of items reach a format:

* MMEB items (``item.instruction == ""``): ``item.text`` is the complete text the official VLM2Vec parser builds
  for the Qwen2-VL backbone, placeholders (``<|image_pad|>``, ``<|video_pad|>``) and newlines included, e.g. an
  image query ``"<|image_pad|>\n{instruction} {text}\n"``.  Each format applies its model's own transformation
  to that text, never anything else (it is not stripped unless the model's reference code strips it).
* items with a separate ``instruction`` (hand-built ones): instruction and text are joined by :func:`join_text`.
"""

from __future__ import annotations

import base64
import io
from typing import Any, cast

from PIL import Image

from umeval.core.errors import DataError
from umeval.core.types import Item
from umeval.encoders.prompt_base import IMAGE_TOKEN, VIDEO_TOKEN, Prompt, PromptFormat

#: UME-R1's generation prompt, placed after ``<disc_emb>`` in every input, query or candidate, disc or gen
#: (``GENERATION_PROMPT``, UME-R1 src/eval/VLM2Vec/src/data/collator/eval_collator.py:21).
UME_R1_GEN_PROMPT = (
    "Represent the above input text, images, videos, or any combination of the three as embeddings. "
    "First output the thinking process in <think> </think> tags and then summarize the entire input in a word "
    "or sentence. Finally, use the <gen_emb> tag to represent the entire input."
)
DISC_TOKEN = "<disc_emb>"
GEN_TOKEN = "<gen_emb>"


def join_text(instruction: str, text: str) -> str:
    """Instruction then text, separated by one space (the official MMEB-V2 ``instr + " " + text``).

    Neither part is stripped: the official video-QA prompt ends in a space, which gives two spaces there.
    Only for items that keep the instruction apart; MMEB items carry the joined text already.
    """
    return f"{instruction} {text}" if instruction.strip() and text.strip() else (instruction or text).strip()


# ---------------------------------------------------------------- UME-R1

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


# ---------------------------------------------------------------- VLM2Vec-V2

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


# ---------------------------------------------------------------- shared

def render(fmt: PromptFormat, item: Item, processor: Any, task: str | None = None) -> Prompt:
    """Decode the item's media (errors name the file; each image keeps its own mode) and write its prompt."""
    from umeval.encoders.media import open_frames, open_image

    images = [open_image(item.image, item, task)] if item.image is not None else []
    images += [open_image(p, item, task) for p in item.images]
    videos = [open_frames(item.video, item, task)] if item.video else []
    return fmt(item, images, videos, processor)


class PromptWriter:
    """Mixin of the encoders that write prompts in a family's format (HF and vLLM Qwen2-VL alike).

    ``prompt_format`` writes queries, and candidates too unless the family declares a format per role
    (``candidate_format``).
    """

    processor: Any
    prompt_format: PromptFormat
    candidate_format: PromptFormat | None = None

    def use_prompt_format(self, name: str, options: dict[str, Any] | None = None) -> None:
        """Use format ``name``; a format function with an ``options`` parameter gets the family's settings."""
        self.prompt_format = _with_options(get_prompt_format(name), options)
        cand = get_prompt_format(name, "candidate")
        self.candidate_format = _with_options(cand, options) if cand is not get_prompt_format(name) else None

    def build_prompt(self, item: Item, task: str | None = None, role: str = "query") -> Prompt:
        fmt = self.candidate_format if role == "candidate" and self.candidate_format else self.prompt_format
        return render(fmt, item, self.processor, task)


def _with_options(fmt: PromptFormat, options: dict[str, Any] | None) -> PromptFormat:
    import functools
    import inspect

    if options is not None and "options" in inspect.signature(fmt).parameters:
        return cast(PromptFormat, functools.partial(cast(Any, fmt), options=dict(options)))
    return fmt


def get_prompt_format(name: str, role: str = "query") -> PromptFormat:
    """The prompt format ``name`` (for ``role``) of whichever model family declares it."""
    from umeval.models.family import get_prompt_format as family_format

    return family_format(name, role)
