"""Token cost: what one item costs a model, declared by its family (``ModelMeta.token_cost``).

The engine uses a family's cost in four places and never does the arithmetic itself: shard balancing
(:mod:`umeval.run.shard`), HF batching (:mod:`umeval.encoders.qwen2vl`), vLLM engine sizing
(:meth:`umeval.encoders.vllm_backend.VllmEncoder.engine_limits`) and ``umeval estimate``.

A cost is a small frozen object with three methods (see :class:`TokenCost`); :class:`Qwen2VLCost` is the default,
right for every Qwen2-VL / Qwen2.5-VL family: an image (or a video frame) is resized, aspect kept, to sides in
multiples of 28 pixels with its pixel count within ``[min_pixels, max_pixels]`` (the processor's
``smart_resize``), then each 28 x 28 block is one token (14 x 14 patches, 2 x 2 merge); a video's frames are
merged in pairs over time (temporal patch 2; an odd count is padded with the last frame).  A family whose
pipeline resizes before the processor (UME-R1 through qwen-vl-utils) or feeds a stand-in image to text-only
items declares so in its instance.  A new architecture writes its own class with the same three methods.

Image sizes come from the file header (PIL reads no pixels for ``.size``), cached per path.  Text is not
counted here: ``umeval estimate`` tokenises prompts with the model's tokenizer; batching and sharding use
:func:`approx_text_tokens` (about 3 characters per token plus the chat template: an over-estimate for
English, the safe side for a memory budget).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from umeval.core.types import Item

#: Tokens of a chat template around an item's text (system turn, role tags, pooling token), for estimates.
TEMPLATE_TOKENS = 32


class TokenCost(Protocol):
    """What a family declares: visual tokens of an image, of a video, and of a whole item's media."""

    def image_tokens(self, size: tuple[int, int] | None, min_pixels: int, max_pixels: int) -> int: ...

    def video_tokens(self, frame_size: tuple[int, int] | None, n_frames: int, min_pixels: int,
                     max_pixels: int) -> int: ...

    def item_visual_tokens(self, item: Item, min_pixels: int, max_pixels: int) -> int: ...


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The Qwen2-VL processor's resize: sides in multiples of ``factor``, pixels within the bounds, aspect kept.

    The arithmetic of transformers' ``qwen2_vl.image_processing_qwen2_vl.smart_resize``; a test checks the two
    agree on a grid of sizes, so a change upstream fails here.
    """
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def qwen_vl_utils_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """qwen-vl-utils' ``smart_resize`` (``fetch_image``), checked against the library by a test.

    As the processor's, but a side rounds to at least one ``factor`` first and down-scaled sides have no floor.
    """
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@lru_cache(maxsize=65536)
def _file_size(path: str) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - unreadable media fails later with its own error; a cost is an estimate
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


@dataclass(frozen=True)
class Qwen2VLCost:
    """Qwen2-VL-style visual tokens (the default cost of a family; see the module docstring).

    ``pre_resize``: pixel bounds of qwen-vl-utils' resize when the family's pipeline applies it before the
    processor's (``fetch_image``: 3,136..12,845,056).  ``small_side``: images with a side under this many pixels
    are first resized to ``small_to`` x ``small_to`` (VLM2Vec's rule).  ``text_only_image``: the size of a
    stand-in image the family gives items without media (UME-R1's blank 28 x 28 JPEG).
    """

    factor: int = 28  # patch 14 x merge 2
    temporal_patch: int = 2
    pre_resize: tuple[int, int] | None = None
    small_side: int = 0
    small_to: int = 56
    text_only_image: tuple[int, int] | None = None

    def _resized(self, size: tuple[int, int], min_pixels: int, max_pixels: int) -> tuple[int, int]:
        w, h = size
        if min(w, h) < self.small_side:
            w = h = self.small_to
        if self.pre_resize is not None:
            h, w = qwen_vl_utils_resize(h, w, self.factor, *self.pre_resize)
        h, w = smart_resize(h, w, self.factor, min_pixels, max_pixels)
        return w, h

    def image_tokens(self, size: tuple[int, int] | None, min_pixels: int, max_pixels: int) -> int:
        """Tokens of one image (or frame) of ``size`` (width, height); unknown size: the most the bounds allow."""
        if size is None:
            return max(1, max_pixels // self.factor ** 2)
        w, h = self._resized(size, min_pixels, max_pixels)
        return (w // self.factor) * (h // self.factor)

    def video_tokens(self, frame_size: tuple[int, int] | None, n_frames: int, min_pixels: int,
                     max_pixels: int) -> int:
        """Tokens of a video of ``n_frames`` frames of ``frame_size``: frames merged in pairs over time."""
        steps = -(-max(1, n_frames) // self.temporal_patch)
        return self.image_tokens(frame_size, min_pixels, max_pixels) * steps

    def item_visual_tokens(self, item: Item, min_pixels: int, max_pixels: int) -> int:
        imgs = ([item.image] if item.image is not None else []) + list(item.images)
        n = sum(self.image_tokens(image_size(im), min_pixels, max_pixels) for im in imgs)
        if item.video:
            n += self.video_tokens(image_size(item.video[0]), len(item.video), min_pixels, max_pixels)
        if not imgs and not item.video and self.text_only_image is not None:
            n += self.image_tokens(self.text_only_image, min_pixels, max_pixels)
        return n


#: The default of ``ModelMeta.token_cost``: the processor's arithmetic, nothing before it.
QWEN2VL_COST = Qwen2VLCost()


def approx_text_tokens(item: Item) -> int:
    """Text tokens of an item without a tokenizer: ~3 characters per token plus the template (an over-estimate)."""
    return TEMPLATE_TOKENS + (len(item.instruction) + len(item.text)) // 3


def cost_spec(cost: Any) -> dict[str, Any]:
    """A family's token cost as plain config data: its class (``"module:Class"``) and its dataclass fields.

    The run writes it into ``model.declared`` (:func:`umeval.models.family.declare_into`), so an encoder rebuilds
    the family's arithmetic (:func:`from_spec`) without asking the family registry.
    """
    import dataclasses

    fields = {f.name: list(v) if isinstance(v := getattr(cost, f.name), tuple) else v
              for f in dataclasses.fields(cost)}
    return {"class": f"{type(cost).__module__}:{type(cost).__qualname__}", **fields}


def from_spec(spec: Any, min_pixels: int, max_pixels: int, num_frames: int) -> ModelCost:
    """The :class:`ModelCost` of a :func:`cost_spec` (lists back to tuples) and a model's bounds."""
    from umeval.core.plugins import load_object

    args = {k: tuple(v) if isinstance(v, list | tuple) or type(v).__name__ == "ListConfig" else v
            for k, v in dict(spec).items() if k != "class"}
    return ModelCost(load_object(str(spec["class"]))(**args), min_pixels, max_pixels, num_frames)


@dataclass(frozen=True)
class ModelCost:
    """A family's cost bound to one model's settings (pixel bounds, frames): what the engine calls."""

    cost: Any  # a TokenCost
    min_pixels: int
    max_pixels: int
    num_frames: int

    def visual(self, item: Item) -> int:
        return int(self.cost.item_visual_tokens(item, self.min_pixels, self.max_pixels))

    def item(self, item: Item) -> int:
        """Estimated prompt tokens of ``item`` (text approximated, visual exact): for batching and sharding."""
        return approx_text_tokens(item) + self.visual(item)

    def max_image(self) -> int:
        return int(self.cost.image_tokens(None, self.min_pixels, self.max_pixels))

    def max_video(self) -> int:
        return int(self.cost.video_tokens(None, self.num_frames, self.min_pixels, self.max_pixels))

    def max_visual(self) -> int:
        """The most visual tokens one MMEB-V2 item (one image or one video) can have: engine sizing."""
        return max(self.max_image(), self.max_video())
