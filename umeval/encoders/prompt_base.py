"""What a prompt format returns, and the official placeholder tokens.

Kept apart from :mod:`umeval.encoders.prompts` (the registry of formats), so a model family's own format
module can import these without importing the registry that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from umeval.core.types import IMAGE_TOKEN, VIDEO_TOKEN, VISION_END, VISION_START, Item

#: The embedding tokens of the generative mode: the prompt's discriminative token and the one a trace ends with
#: (UME-R1's vocabulary; the generative encoders read the state after the last generated ``GEN_TOKEN``).
DISC_TOKEN = "<disc_emb>"
GEN_TOKEN = "<gen_emb>"

#: Tokens a trace must never contain: a generated vision placeholder would have no media behind it in the
#: readout pass.  Both backends forbid them while decoding (a real checkpoint does not emit them anyway).
VISION_TOKENS = (IMAGE_TOKEN, VIDEO_TOKEN, VISION_START, VISION_END)


@dataclass
class Prompt:
    text: str  # before the processor expands the placeholders
    images: list[Image.Image] = field(default_factory=list)  # RGB, as the processor receives them
    videos: list[list[Image.Image]] = field(default_factory=list)
    pool_token: str | None = None  # read the last occurrence of this token; None: the last token
    #: read this many tokens after the last ``pool_token`` instead (capped at the last real token)
    pool_after: int = 0
    #: The format resized the media itself (as its authors' pipeline does before the processor): the processor is
    #: called with ``do_resize=False`` for them.  Videos may then be (frames, 3, H, W) tensors.
    resized: bool = False
    #: Per video, the metadata the processor reads (fps, frame indices), for processors that write timestamps.
    video_metadata: list[dict[str, Any]] | None = None


def join_text(instruction: str, text: str) -> str:
    """Instruction then text, separated by one space (the official MMEB-V2 ``instr + " " + text``).

    Neither part is stripped: the official video-QA prompt ends in a space, which gives two spaces there.
    Only for items that keep the instruction apart; MMEB items carry the joined text already.
    """
    return f"{instruction} {text}" if instruction.strip() and text.strip() else (instruction or text).strip()


#: A format may also take ``task=`` (the task's name) when it sets ``wants_task = True`` on itself: for families
#: whose authors feed a task's items differently (e.g. a resize their parsers skip for one data family).
PromptFormat = Callable[[Item, list[Image.Image], list[list[Image.Image]], Any], Prompt]
