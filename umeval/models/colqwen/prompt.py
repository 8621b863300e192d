r"""ColQwen2.5's input, derived from its authors' engine (illuin-tech/colpali, colpali-engine v0.3.9 = 5b1b912).

Which engine: ``ColQwen2_5``/``ColQwen2_5_Processor`` first ship in the v0.3.9 release (CHANGELOG.md "[0.3.9] -
2025-04-03": "Add ColQwen2.5 support"); ``vidore/colqwen2.5-v0.2`` (released 2025-01-31 per MTEB's model_meta.json)
ran from the engine's ``colqwen2_5`` branch until that release merged it (the maintainers' answer in the hub
discussion vidore/colqwen2.5-v0.1#1), and v0.3.9 pins transformers 4.50 and peft 0.14 (pyproject.toml:38-43).  The
input facts below are the same at v0.3.14 (9be8f19 HEAD, only the transformers-5 plumbing changed); paths are
``colpali_engine/models/qwen2_5/colqwen2_5/`` at 5b1b912 unless named.

* **Query** (``process_queries``, processing_colqwen2_5.py:101-126): the string ``"Query: "`` + the query + ten
  query-augmentation tokens, each ``<|endoftext|>`` (:25-26, :112-113), and nothing after them (transformers' own
  ColQwen2Processor appends a newline; the engine does not).  No chat template, no special token added by the
  Qwen2 tokenizer (it adds no BOS), no truncation (``max_length`` is unused, :110).
* **Page** (``process_images``, :62-99): each image converted to RGB and sent with the fixed text
  ``<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe the image.<|im_end|><|endoftext|>``
  (:22-24) through ``Qwen2VLProcessor``, which resizes it (``smart_resize``: sides multiples of 28 = patch 14 x
  merge 2, pixel count within the image processor's ``min_pixels``/``max_pixels``) and repeats the
  ``<|image_pad|>`` once per merged 28 x 28 block.  ``max_num_visual_tokens`` sets ``max_pixels`` to N x 28 x 28
  (:56-58); the authors' ColQwen2.5 training uses 768 (scripts/configs/qwen2/train_colqwen25_model.py:48-51 at
  HEAD), i.e. 602,112 pixels, and a processor saved from it keeps that bound.
* **Padding**: left (the processor sets ``tokenizer.padding_side = "left"``, :39; the model records it,
  modeling_colqwen2_5.py:26), ``padding="longest"``.  The flattened pixel rows are split per image by
  ``image_grid_thw`` (h x w rows each) and zero-padded to a (batch, rows, 1176) tensor (:86-97); the model cuts
  each image's padding off again before the vision tower (modeling_colqwen2_5.py:84-89), so on one device the
  padding is a no-op.
* **Model** (modeling_colqwen2_5.py:22-115): Qwen2.5-VL with 3-D rope positions from ``get_rope_index`` on the
  input ids, image grid and attention mask (:91-96), the decoder's last hidden state, ``custom_text_proj`` =
  ``Linear(hidden, 128)`` (:24-25), L2-normalised per token (:108), times the attention mask (:109);
  ``mask_non_image_embeddings`` is off by default (:111-114), so every real position of a page is a token vector.
  Weights in bfloat16 (the README quick start, README.md:73-77 at v0.3.9, for ColQwen2; the ColQwen2.5 training,
  train_colqwen25_model.py:54 at HEAD); umeval: the preset's dtype (bf16 on a GPU).
* **Score**: ``score_multi_vector`` (colpali_engine/utils/processing_utils.py:68-118): MaxSim, the sum over
  query tokens of the best dot product with a page token (zero-padded batches, einsum at :114).

MMEB-V2 beyond visual documents (the authors never ran it): umeval applies its ColPali rule (the official MMEB-V2
ColPali path, :mod:`umeval.models.colpali.prompt`): an item with any image or video is encoded as a page from its
first image or its video's first frame, its text dropped; an item without media is a query whose text is the
parser's ``instruction + " " + text`` (the bare text when the instruction is empty, as on the visual-document
tasks under the ``ume-r1`` instruction set, which is what the engine's ViDoRe evaluation feeds: the bare query).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from umeval.core.types import Item
from umeval.encoders.prompt_base import Prompt
from umeval.models.colpali.prompt import page_source, query_text

IMAGE_TOKEN = "<|image_pad|>"
#: processing_colqwen2_5.py:22-24
PAGE_PROMPT = ("<|im_start|>user\n<|vision_start|>" + IMAGE_TOKEN
               + "<|vision_end|>Describe the image.<|im_end|><|endoftext|>")
#: processing_colqwen2_5.py:25
QUERY_PREFIX = "Query: "
#: processing_colqwen2_5.py:26, :113: ten of them after the query
AUGMENTATION = "<|endoftext|>" * 10


def first_visual(images: list[Image.Image], videos: list[list[Image.Image]]) -> Image.Image | None:
    """The one image a page is made of (ColPali's rule, :func:`page_source`), RGB (:77)."""
    im = page_source(images, videos)
    return None if im is None else im.convert("RGB")


def colqwen25(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any) -> Prompt:
    image = first_visual(images, videos)
    if image is not None:
        return Prompt(text=PAGE_PROMPT, images=[image])
    return Prompt(text=QUERY_PREFIX + query_text(item) + AUGMENTATION)
