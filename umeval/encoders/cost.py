"""What an item costs the model, estimated without decoding its media: text plus visual tokens.

Qwen2-VL-family vision: each 28 x 28 pixel block becomes one token after the 2 x 2 merge; an image is resized
(aspect kept, sides rounded to multiples of 28) so that its pixel count lies in ``[min_pixels, max_pixels]``;
video frames are merged in pairs over time (temporal patch 2).  Image sizes come from the file header (PIL
reads no pixels for ``.size``), cached per path.  Text is counted at about 3 characters per token plus a fixed
template overhead: an over-estimate for English, which is the safe side for a memory budget.
"""

from __future__ import annotations

import io
from functools import lru_cache

from umeval.core.types import Item

#: Pixels per visual token after the merge (14 x 14 patches, 2 x 2 merge).
PIXELS_PER_TOKEN = 28 * 28
#: Tokens of the chat template around an item's text (system turn, role tags, pooling token).
TEMPLATE_TOKENS = 32
#: Defaults of :class:`umeval.core.config.ModelConfig`.
MIN_PIXELS, MAX_PIXELS = 784, 2359296


@lru_cache(maxsize=65536)
def _file_size(path: str) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - unreadable media fails later with its own error; the estimate is a guess
        return None


def image_size(src: str | bytes) -> tuple[int, int] | None:
    """(width, height) of an image file or encoded bytes, from the header; None when unreadable."""
    if isinstance(src, bytes):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(src)) as im:
                return im.size
        except Exception:  # noqa: BLE001
            return None
    return _file_size(str(src))


def image_tokens(size: tuple[int, int] | None, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> int:
    """Visual tokens of one image (or one frame) of ``size`` after the resize into the pixel bounds."""
    if size is None:  # unknown: assume the largest the bounds allow
        return max(1, max_pixels // PIXELS_PER_TOKEN)
    w, h = size
    blocks = max(1, round(w / 28)) * max(1, round(h / 28)) * PIXELS_PER_TOKEN
    return max(1, min(max(blocks, min_pixels), max_pixels) // PIXELS_PER_TOKEN)


def visual_tokens(item: Item, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> int:
    imgs = ([item.image] if item.image is not None else []) + list(item.images)
    n = sum(image_tokens(image_size(im), min_pixels, max_pixels) for im in imgs)
    if item.video:
        per_frame = image_tokens(image_size(item.video[0]), min_pixels, max_pixels)
        n += per_frame * ((len(item.video) + 1) // 2)  # frames merged in pairs over time
    return n


def text_tokens(item: Item) -> int:
    return TEMPLATE_TOKENS + (len(item.instruction) + len(item.text)) // 3


def item_tokens(item: Item, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> int:
    """Estimated prompt length of ``item`` in tokens (text + visual)."""
    return text_tokens(item) + visual_tokens(item, min_pixels, max_pixels)
