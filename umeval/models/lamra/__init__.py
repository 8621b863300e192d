"""LamRA-Ret as the official MMEB-V2 evaluation runs it.

code-kunkun/LamRA-Ret (Qwen2-VL) and code-kunkun/LamRA-Ret-Qwen2.5VL-7b (Qwen2.5-VL).  The prompt format is
:mod:`umeval.models.lamra.prompt`; the engine's HF encoder serves both architectures
(``AutoModelForImageTextToText`` picks the class from the checkpoint).  ``tiny.py`` builds a tiny random
Qwen2.5-VL for the tests; published per-task scores: ``reference/``.
"""

from umeval.models.family import Checkpoint, ModelCard, ModelMeta, register_family

NOT_PINNED = "no public record of the commit (mteb has no LamRA metadata): branch main"

register_family(ModelMeta(
    name="lamra",
    description="LamRA-Ret: Qwen2-VL / Qwen2.5-VL retrieval embedder (official MMEB-V2 baseline)",
    encoders={"hf": "umeval.encoders.qwen2vl:Qwen2VLEncoder"},
    prompts={"lamra": "umeval.models.lamra.prompt:lamra"},
    modes=("disc",),
    pooling="last token (the line break after the final assistant header), L2-normalised",
    preprocessing="as GME (one image, fetch_image resize), then the processor's min/max_pixels",
    checkpoints=(
        Checkpoint("lamra-ret", "code-kunkun/LamRA-Ret", "main", NOT_PINNED,
                   ModelCard("LamRA-Ret", "Qwen2-VL-7B-Instruct", "7B parameters", 3584, None,
                             "https://huggingface.co/code-kunkun/LamRA-Ret")),
        Checkpoint("lamra-ret-qwen25vl-7b", "code-kunkun/LamRA-Ret-Qwen2.5VL-7b", "main", NOT_PINNED,
                   ModelCard("LamRA-Ret-Qwen2.5VL-7b", "Qwen2.5-VL-7B-Instruct", "7B parameters", 3584, None,
                             "https://huggingface.co/code-kunkun/LamRA-Ret-Qwen2.5VL-7b")),
        Checkpoint("tiny-qwen25vl-lamra", "(built offline by umeval.models.lamra.tiny)", "tiny-1"),
    ),
))
