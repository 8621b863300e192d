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
    # gme_inference.py:93-99 / lamra_inference.py:141-147 call the language model with position_ids=None, and
    # the vendored Qwen2VLModel/Qwen2_5_VLModel then number every token 0..L-1 on all three rope sections
    # (vlm_backbone/qwen2_vl/modeling_qwen2_vl.py:1018-1019, qwen2_5_vl/modeling_qwen2_5_vl.py:1133-1134).
    positions="sequential",
    # Its processor's image class is the slow Qwen2-VL one (processor.py:121-134 for GME; the vendored
    # Qwen2VLProcessor / Qwen2_5_VLProcessor LamRA loads names a slow class, processing_qwen2_vl.py:69).
    slow_image_processor=True,
    version="2",  # 2: 1-D positions, slow image processor, literal video-QA / t2i placeholders
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
