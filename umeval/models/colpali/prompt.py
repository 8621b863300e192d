r"""ColPali-v1.3's input, derived from the official MMEB-V2 code (TIGER-AI-Lab/VLM2Vec at 6e1e1d4).

What reaches ColPali in the official evaluation (``--model_backbone colpali``, experiments/public/eval/eval_1gpu.sh:28):

* **One path per item, by media** (``ColPali_process_fn``, src/model/processor.py:520-535, the same for queries
  and candidates).  An item with any image or video frame is encoded as a page: the processor's
  ``process_images`` gets the item's image list and keeps its first entry (``i[0]``,
  src/model/baseline_backbone/colpali/processing_colpali.py:35), so a video gives its first sampled frame and a
  multi-image item its first image; **the item's text is not used at all** (instruction, question or caption).
  An item without media goes through ``process_queries`` with its text.
* **Text.** ``process_input_text`` has no ColPali branch: it writes ``instruction + " " + text`` with an empty
  image/video token (processor.py:663-671, ``VLM_IMAGE_TOKENS[COLPALI] = ""``), so a text-only item's string is the
  loader's (which carries no placeholder).  The visual-document parser used no prompts when the ColPali scores were
  made (vidore_dataset.py at 6ac33bb..418e3f1: ``TASK_INST_QRY = ""``, "ColPali models use no prompts"): the
  ``ume-r1`` instruction set of the visdoc tasks is exactly that (empty for the ``vidore`` parser's tasks, the
  official ones for VisRAG), and the ColPali preset selects it.
* **Query** (processing_colpali.py:46-75): ``<bos>`` + ``"Query: "`` + text + ten query-augmentation tokens (the
  tokenizer's pad token) + ``"\n"``, tokenised by the tokenizer with its default special tokens, no truncation
  (``max_length=50`` without ``truncation``).
* **Page** (processing_colpali.py:14, 28-44): the text ``"<image><bos>Describe the image."`` and the image (RGB;
  an image whose short side is under 5 pixels is first stretched to a square of its long side) go to
  ``PaliGemmaProcessor.__call__`` (transformers 4.52.3, the eval's pin): the ``<image>`` is expanded to
  ``image_seq_length`` image tokens, a ``<bos>`` is inserted after the last one and ``"\n"`` appended, giving
  ``<image> x N + "<bos>" + "<bos>Describe the image." + "\n"`` for the tokenizer (default special tokens).
* **Embedding**: every position's last hidden state, projected to 128 dims, L2-normalised per token, times the
  attention mask (modeling_colpali.py:34-48); scored by MaxSim (eval.py:305-335).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from umeval.core.types import Item
from umeval.encoders.prompt_base import Prompt

IMAGE_TOKEN = "<image>"
#: processing_colpali.py:14 (``visual_prompt_prefix`` after its ``<image>``)
PAGE_PROMPT = "Describe the image."
#: processing_colpali.py:15
QUERY_PREFIX = "Query: "
#: processing_colpali.py:59: ten query-augmentation (pad) tokens
AUGMENTATION_TOKENS = 10
#: processing_colpali.py:37: an image with a side under this is stretched to a square first
MIN_SIDE = 5


def page_source(images: list[Image.Image], videos: list[list[Image.Image]]) -> Image.Image | None:
    """The one image an item with media is encoded from: its first image, else its video's first frame."""
    if images:
        return images[0]
    if videos and videos[0]:
        return videos[0][0]
    return None


def query_text(item: Item) -> str:
    """A text-only item's text as the official parser writes it: ``instruction + " " + text``, or the bare text."""
    return f"{item.instruction} {item.text}" if item.instruction else item.text


def first_visual(images: list[Image.Image], videos: list[list[Image.Image]]) -> Image.Image | None:
    """The one image ColPali sees (:func:`page_source`), RGB, tiny sides fixed."""
    im = page_source(images, videos)
    if im is None:
        return None
    im = im.convert("RGB")
    if min(im.size) < MIN_SIDE:
        side = max(im.size)
        im = im.resize((side, side))
    return im


def colpali(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any) -> Prompt:
    tok = processor.tokenizer
    image = first_visual(images, videos)
    if image is not None:
        n = int(processor.image_seq_length)
        return Prompt(text=IMAGE_TOKEN * n + tok.bos_token + tok.bos_token + PAGE_PROMPT + "\n", images=[image])
    return Prompt(text=tok.bos_token + QUERY_PREFIX + query_text(item) + tok.pad_token * AUGMENTATION_TOKENS + "\n")
