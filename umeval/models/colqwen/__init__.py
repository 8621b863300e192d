"""ColQwen2.5 as its authors' engine runs it: late interaction (a 128-d vector per token, MaxSim).

vidore/colqwen2.5-v0.2 (Qwen2.5-VL-3B-Instruct, dynamic resolution), a LoRA adapter on vidore/colqwen2.5-base.
The input is :mod:`umeval.models.colqwen.prompt` (facts from colpali-engine v0.3.9 with file:line); the loading
design is :mod:`umeval.models.colqwen.checkpoint`: transformers' ``ColQwen2ForRetrieval`` (its ``vlm_config``
takes a Qwen2.5-VL config; its forward is the engine's projection, per-token L2 and masking) with the base's
weights under a key mapping and the adapter applied by PEFT under the engine's module names and merged.  This is
the simplest faithful design: no vendored model class and no hand-written LoRA arithmetic; the only glue is a key
mapping and a module view.  ``encoder.py`` extends the ColPali late-interaction encoder (left padding, the
engine's rope positions); ``tiny.py`` builds a tiny checkpoint in the same on-disk format (adapter + base) for the
tests; ``reference/`` holds the published ViDoRe scores of the 11 tasks that overlap MMEB-V2's one-to-one.
"""

from dataclasses import dataclass

from umeval.core.types import Item
from umeval.models.cost import Qwen2VLCost, image_size
from umeval.models.family import Checkpoint, ModelCard, ModelMeta, register_family


@dataclass(frozen=True)
class FirstVisualCost(Qwen2VLCost):
    """Qwen2.5-VL's 28 x 28 pixels per token, for the one image ColQwen sees per item.

    That is its first image or its video's first frame, as a single image; a text-only item has none.
    """

    def item_visual_tokens(self, item: Item, min_pixels: int, max_pixels: int) -> int:
        first = item.image if item.image is not None else (item.images[0] if item.images else None)
        if first is None and item.video:
            first = item.video[0]
        return 0 if first is None else self.image_tokens(image_size(first), min_pixels, max_pixels)


register_family(ModelMeta(
    name="colqwen2.5",
    description="ColQwen2.5: Qwen2.5-VL late-interaction retriever (LoRA merged), MaxSim over 128-d token vectors",
    encoders={"hf": "umeval.models.colqwen.encoder:ColQwen25Encoder"},
    prompts={"colqwen2.5": "umeval.models.colqwen.prompt:colqwen25"},
    modes=("disc",),
    pooling="none: every position's projected last hidden state, L2-normalised per token (late interaction)",
    preprocessing="first image or first video frame only, text dropped when there is one; Qwen2-VL processor "
                  "(slow image processor), left padding",
    slow_image_processor=True,
    token_cost=FirstVisualCost(),
    checkpoints=(
        Checkpoint("colqwen2.5", "vidore/colqwen2.5-v0.2", "6f6fcdfd1a114dfe365f529701b33d66b9349014",
                   "the revision of the published ViDoRe scores (embeddings-benchmark/results "
                   "results/vidore__colqwen2.5-v0.2/<revision>/model_meta.json)",
                   # parameters, dimension and release date as that model_meta.json states them
                   card=ModelCard("colqwen2.5-v0.2", "Qwen2.5-VL-3B-Instruct", "3B parameters", 128, "2025-01-31",
                                  "https://huggingface.co/vidore/colqwen2.5-v0.2")),
        Checkpoint("tiny-colqwen2.5", "(built offline by umeval.models.colqwen.tiny)", "tiny-2"),
    ),
))
