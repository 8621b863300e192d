"""Qwen3-VL-Embedding's token cost: 32 x 32 pixels per visual token, and its own video arithmetic.

Qwen3-VL has 16-pixel patches merged 2 x 2, so each 32 x 32 block of a resized image is one token, and frames are
merged in pairs over time.  The family's format resizes the media before the processor, which does not resize
again (:mod:`umeval.models.qwen3_vl_embedding.prompt`), so the cost follows the format, not the preset's bounds:

* an image: qwen-vl-utils' resize to multiples of 32 within 4,096..1,843,200 pixels (at most 1,800 tokens);
* a video: at most 64 frames, padded to an even count; each frame first to multiples of 64 within the library's
  frame bounds, then the stack to multiples of 32 within 131,072 pixels and
  ``max(min(786,432, 7,864,320 / n * 2), 1.05 * 131,072)`` per frame; tokens per pair of frames = blocks of 32 x 32.
  64 frames give at most 240 tokens per pair, 7,680 in all.

The preset's ``min_pixels``/``max_pixels`` (the image bounds) are therefore not what sizes a video here.
"""

from __future__ import annotations

from dataclasses import dataclass

import umeval.models.qwen3_vl_embedding.prompt as fmt
from umeval.models.cost import Qwen2VLCost, qwen_vl_utils_resize


@dataclass(frozen=True)
class Qwen3VLEmbeddingCost(Qwen2VLCost):
    """Images as :class:`Qwen2VLCost` with 32-pixel blocks and the format's pre-resize; videos as the format."""

    factor: int = fmt.FACTOR
    pre_resize: tuple[int, int] | None = (fmt.IMAGE_MIN_PIXELS, fmt.IMAGE_MAX_PIXELS)

    def video_tokens(self, frame_size: tuple[int, int] | None, n_frames: int, min_pixels: int,
                     max_pixels: int) -> int:
        """Tokens of a video of ``n_frames`` frames of ``frame_size`` (width, height); unknown size: the most."""
        n = min(max(1, n_frames), fmt.MAX_FRAMES)
        n += n % 2  # the format repeats the last frame of an odd count
        cap = fmt.video_frame_cap(n)
        if frame_size is None:
            per_pair = cap // self.factor ** 2
        else:
            w, h = frame_size
            h, w = qwen_vl_utils_resize(h, w, fmt.FRAME_FACTOR_FIRST, fmt.FRAME_FIRST_MIN, fmt.FRAME_FIRST_MAX)
            h, w = qwen_vl_utils_resize(h, w, self.factor, fmt.VIDEO_MIN_PIXELS, cap)
            per_pair = (h // self.factor) * (w // self.factor)
        return per_pair * (n // self.temporal_patch)


#: The family's declared cost (``ModelMeta.token_cost``).
QWEN3_VL_EMBEDDING_COST = Qwen3VLEmbeddingCost()
