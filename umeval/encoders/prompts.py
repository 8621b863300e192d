r"""How an encoder writes an item in its family's prompt format.  Tasks never see these; families own the formats.

A format (declared by a family, e.g. ``umeval/models/vlm2vec/prompt.py``) turns an :class:`Item` (its text, and
the media decoded in their own mode) into the prompt string the processor tokenises (placeholders not yet
expanded), the media in prompt order exactly as the processor receives them, and the token whose hidden state is
the embedding.

Two kinds of items reach a format:

* MMEB items (``item.instruction == ""``): ``item.text`` is the complete text the official VLM2Vec parser builds
  for the Qwen2-VL backbone, placeholders (``<|image_pad|>``, ``<|video_pad|>``) and newlines included, e.g. an
  image query ``"<|image_pad|>\n{instruction} {text}\n"``.  Each format applies its model's own transformation
  to that text, never anything else (it is not stripped unless the model's reference code strips it).
* items with a separate ``instruction`` (hand-built ones): instruction and text are joined by :func:`join_text`.

The encoder never looks a family up: the run resolves the formats the family declares
(:func:`umeval.models.family.declare_into` writes them into ``model.formats``) and hands them over.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, cast

from umeval.core.types import Item
from umeval.encoders.prompt_base import (  # noqa: F401 - re-exported for the encoders
    DISC_TOKEN,
    GEN_TOKEN,
    IMAGE_TOKEN,
    VIDEO_TOKEN,
    Prompt,
    PromptFormat,
    join_text,
)


def render(fmt: PromptFormat, item: Item, processor: Any, task: str | None = None) -> Prompt:
    """Decode the item's media (errors name the file; each image keeps its own mode) and write its prompt."""
    from umeval.encoders.media import open_frames, open_image

    images = [open_image(item.image, item, task)] if item.image is not None else []
    images += [open_image(p, item, task) for p in item.images]
    videos = [open_frames(item.video, item, task)] if item.video else []
    if getattr(fmt, "wants_task", False):
        return fmt(item, images, videos, processor, task=task)  # type: ignore[call-arg]
    return fmt(item, images, videos, processor)


def formats_of(model_cfg: Any) -> tuple[PromptFormat, PromptFormat]:
    """The query and candidate formats the run wrote into ``model.formats`` (from the model's family)."""
    from omegaconf import DictConfig, OmegaConf

    from umeval.core.errors import ConfigError
    from umeval.core.plugins import load_object

    refs = model_cfg.get("formats") or {}
    if "query" not in refs:
        raise ConfigError(f"model {model_cfg.get('name')} has no prompt formats (model.formats is empty)",
                          "build the config with umeval.core.config.compose_config, which fills them from the family")
    raw = model_cfg.get("options")
    opts = OmegaConf.to_container(raw) if isinstance(raw, DictConfig) else dict(raw or {})
    query = _with_options(load_object(str(refs["query"])), cast(dict[str, Any], opts))
    cand = refs.get("candidate")
    if not cand or str(cand) == str(refs["query"]):
        return query, query
    return query, _with_options(load_object(str(cand)), cast(dict[str, Any], opts))


class PromptWriter:
    """Mixin of the encoders that write prompts in a family's format (HF and vLLM alike).

    ``prompt_format`` writes queries, and candidates too unless the family declares a format per role
    (``candidate_format``).  The encoder's constructor receives them in ``model_cfg`` as resolved by the run
    (:func:`formats_of`), never by asking the family registry.
    """

    processor: Any
    prompt_format: PromptFormat
    candidate_format: PromptFormat | None = None

    def use_prompt_formats(self, query: PromptFormat, candidate: PromptFormat | None = None) -> None:
        self.prompt_format = query
        self.candidate_format = candidate if candidate is not None and candidate is not query else None

    def build_prompt(self, item: Item, task: str | None = None, role: str = "query") -> Prompt:
        fmt = self.candidate_format if role == "candidate" and self.candidate_format else self.prompt_format
        return render(fmt, item, self.processor, task)


def _with_options(fmt: PromptFormat, options: dict[str, Any] | None) -> PromptFormat:
    """``fmt`` given the family's settings when it takes them (a format function with an ``options`` parameter)."""
    if options is not None and "options" in inspect.signature(fmt).parameters:
        wrapped = functools.partial(cast(Any, fmt), options=dict(options))
        wrapped.wants_task = getattr(fmt, "wants_task", False)  # type: ignore[attr-defined]
        return cast(PromptFormat, wrapped)
    return fmt
