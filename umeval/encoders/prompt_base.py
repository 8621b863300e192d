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


PromptFormat = Callable[[Item, list[Image.Image], list[list[Image.Image]], Any], Prompt]
