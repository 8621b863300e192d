"""Qwen3-VL-Embedding (Qwen/Qwen3-VL-Embedding-2B, -8B) as its authors' MMEB-V2 evaluation feeds it.

The authors' evaluation (QwenLM/Qwen3-VL-Embedding ``src/evaluation/mmeb_v2/``, adapted from the official
code) writes its own inputs: the task's instruction in a system turn for queries, the default one for
candidates, its own pixel bounds and a 64-frame video budget (:mod:`umeval.models.qwen3_vl_embedding.prompt`).
The engine's HF encoder runs it (``AutoModelForImageTextToText`` picks Qwen3-VL from the checkpoint; the state
is read at the last token; L2-normalised).  ``tiny.py`` builds a tiny random Qwen3-VL for the tests.
Published scores: overall and per category only (the authors' README table; ``reference/``).
"""

from umeval.models.family import Checkpoint, ModelCard, ModelMeta, register_family

NOT_PINNED = "no public record of the commit: branch main"

register_family(ModelMeta(
    name="qwen3-vl-embedding",
    description="Qwen3-VL-Embedding: Qwen3-VL multimodal embedder (authors' MMEB-V2 evaluation)",
    encoders={"hf": "umeval.encoders.qwen2vl:Qwen2VLEncoder"},
    prompts={"qwen3-vl-embedding": {"query": "umeval.models.qwen3_vl_embedding.prompt:query",
                                    "candidate": "umeval.models.qwen3_vl_embedding.prompt:candidate"}},
    roles="differ",  # queries carry the task's instruction, candidates the default one
    modes=("disc",),
    pooling="last token (the line break after the assistant header), L2-normalised",
    preprocessing="images: RGB, smart_resize to multiples of 32 in 4,096..1,843,200 px; videos: <= 64 frames, "
                  "each rounded to multiples of 64, then the stack to multiples of 32 under a 7,864,320 px total; "
                  "the processor does not resize again",
    checkpoints=(
        Checkpoint("qwen3-vl-embedding-2b", "Qwen/Qwen3-VL-Embedding-2B", "main", NOT_PINNED,
                   ModelCard("Qwen3-VL-Embedding-2B", "Qwen3-VL-2B-Instruct", "2B parameters", 2048, None,
                             "https://huggingface.co/Qwen/Qwen3-VL-Embedding-2B")),
        Checkpoint("qwen3-vl-embedding-8b", "Qwen/Qwen3-VL-Embedding-8B", "main", NOT_PINNED,
                   ModelCard("Qwen3-VL-Embedding-8B", "Qwen3-VL-8B-Instruct", "8B parameters", 4096, None,
                             "https://huggingface.co/Qwen/Qwen3-VL-Embedding-8B")),
        Checkpoint("tiny-qwen3vl-embedding", "(built offline by umeval.models.qwen3_vl_embedding.tiny)", "tiny-1",
                   card=ModelCard("tiny-qwen3vl-embedding", "random Qwen3-VL (2 layers, width 128)",
                                  "about 0.3M parameters", 128)),
    ),
))
