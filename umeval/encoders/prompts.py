"""Prompt formats: how a model family wants an item written.  Tasks never see these.

A format turns an :class:`Item` (instruction, text, decoded media) into the prompt string the processor
tokenises, the media in prompt order, and the token whose hidden state is the embedding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from umeval.errors import ConfigError
from umeval.registry import suggest
from umeval.types import Item

#: UME-R1's generation prompt, placed after ``<disc_emb>`` in every input, query or candidate, disc or gen.
UME_R1_GEN_PROMPT = (
    "Represent the above input text, images, videos, or any combination of the three as embeddings. "
    "First output the thinking process in <think> </think> tags and then summarize the entire input in a word "
    "or sentence. Finally, use the <gen_emb> tag to represent the entire input."
)
DISC_TOKEN = "<disc_emb>"
GEN_TOKEN = "<gen_emb>"


@dataclass
class Prompt:
    text: str
    images: list[Image.Image] = field(default_factory=list)
    videos: list[list[Image.Image]] = field(default_factory=list)
    pool_token: str | None = None  # read the last occurrence of this token; None: the last token


PromptFormat = Callable[[Item, list[Image.Image], list[list[Image.Image]], Any], Prompt]


def join_text(instruction: str, text: str) -> str:
    """Instruction then text, separated by one space (the official MMEB-V2 ``instr + " " + text``).

    Neither part is stripped: the official video-QA prompt ends in a space, which gives two spaces there.
    Stop-gap until the model-input formats land: the loaders now put the official text, placeholders included,
    into ``text``; these formats place media themselves, so the placeholders are dropped here.
    """
    text = text.replace("<|image_pad|>", "").replace("<|video_pad|>", "")
    return f"{instruction} {text}" if instruction.strip() and text.strip() else (instruction or text).strip()


def ume_r1(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any) -> Prompt:
    r"""UME-R1's prompt, for queries and candidates, disc and gen alike.

    Qwen2-VL chat template (default system turn), one user turn with the visual item then
    ``text + "\n<disc_emb>\n" + generation prompt``, and the assistant header.  A text-only item gets a
    blank 28x28 white image, as in the authors' code.  The disc embedding is read at the last ``<disc_emb>``.
    """
    if not images and not videos:
        images = [Image.new("RGB", (28, 28), (255, 255, 255))]
    parts: list[dict[str, Any]] = [{"type": "image"} for _ in images] + [{"type": "video"} for _ in videos]
    body = join_text(item.instruction, item.text)
    parts.append({"type": "text", "text": f"{body}\n{DISC_TOKEN}\n{UME_R1_GEN_PROMPT}"})
    text = processor.apply_chat_template([{"role": "user", "content": parts}], tokenize=False,
                                         add_generation_prompt=True)
    return Prompt(text=text, images=images, videos=videos, pool_token=DISC_TOKEN)


def vlm2vec(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any) -> Prompt:
    """VLM2Vec-V2: visual tokens, then instruction and text; no chat template; the last token is read."""
    vis = "<|vision_start|><|image_pad|><|vision_end|>" * len(images)
    vis += "<|vision_start|><|video_pad|><|vision_end|>" * len(videos)
    body = join_text(item.instruction, item.text)
    return Prompt(text=f"{vis} {body}" if vis else body, images=images, videos=videos, pool_token=None)


def render(fmt: PromptFormat, item: Item, processor: Any, task: str | None = None) -> Prompt:
    """Decode the item's media (errors name the file) and write its prompt in format ``fmt``."""
    from umeval.media import load_frames, load_image

    images = [load_image(item.image, item, task)] if item.image is not None else []
    images += [load_image(p, item, task) for p in item.images]
    videos = [load_frames(item.video, item, task)] if item.video else []
    return fmt(item, images, videos, processor)


PROMPTS: dict[str, PromptFormat] = {
    "ume-r1": ume_r1,
    "vlm2vec": vlm2vec,
}


def get_prompt_format(name: str) -> PromptFormat:
    if name not in PROMPTS:
        hint = suggest(name, PROMPTS)
        raise ConfigError(f"unknown prompt format '{name}'",
                          (hint + " " if hint else "") + f"use one of {', '.join(PROMPTS)}")
    return PROMPTS[name]
