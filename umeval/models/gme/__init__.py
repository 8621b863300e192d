"""GME (Alibaba-NLP/gme-Qwen2-VL-2B/7B-Instruct) as the official MMEB-V2 evaluation runs it.

Everything GME-specific is the prompt format (:mod:`umeval.models.gme.prompt`: text, the one image, the literal
prompt layout, last-token pooling); the engine's HF Qwen2-VL encoder runs it (loading, cost batching, call-time
pixel bounds, L2 normalisation; right padding read at ``length - 1`` picks the token GME's left padding reads at
``-1``).  Published per-task scores: ``reference/``.
"""

from umeval.models.family import Checkpoint, ModelCard, ModelMeta, register_family

MTEB = "mteb model metadata (gme_qwen2vl ModelMeta.revision)"

register_family(ModelMeta(
    name="gme",
    description="GME: Qwen2-VL general multimodal embedder (official MMEB-V2 baseline)",
    encoders={"hf": "umeval.encoders.qwen2vl:Qwen2VLEncoder"},
    prompts={"gme": "umeval.models.gme.prompt:gme"},
    modes=("disc",),
    pooling="last token (the final <|endoftext|>), L2-normalised",
    # gme_inference.py:93-99 / lamra_inference.py:141-147 call the language model with position_ids=None, and
    # the vendored Qwen2VLModel/Qwen2_5_VLModel then number every token 0..L-1 on all three rope sections
    # (vlm_backbone/qwen2_vl/modeling_qwen2_vl.py:1018-1019, qwen2_5_vl/modeling_qwen2_5_vl.py:1133-1134).
    positions="sequential",
    # Its processor's image class is the slow Qwen2-VL one (processor.py:121-134 for GME; the vendored
    # Qwen2VLProcessor / Qwen2_5_VLProcessor LamRA loads names a slow class, processing_qwen2_vl.py:69).
    slow_image_processor=True,
    version="2",  # 2: 1-D positions, slow image processor, literal video-QA / t2i placeholders
    preprocessing="one image per item (a video's middle frame), RGB, fetch_image resize to 3,136..12,845,056 px, "
                  "then the processor's min/max_pixels",
    checkpoints=(
        Checkpoint("gme-qwen2vl-2b", "Alibaba-NLP/gme-Qwen2-VL-2B-Instruct",
                   "ce765ae71b8cdb208203cd8fb64a170b1b84293a", MTEB,
                   ModelCard("gme-Qwen2-VL-2B-Instruct", "Qwen2-VL-2B-Instruct", "2B parameters", 1536, None,
                             "https://huggingface.co/Alibaba-NLP/gme-Qwen2-VL-2B-Instruct")),
        Checkpoint("gme-qwen2vl-7b", "Alibaba-NLP/gme-Qwen2-VL-7B-Instruct",
                   "477027a6480f8630363be77751f169cc3434b673", MTEB,
                   ModelCard("gme-Qwen2-VL-7B-Instruct", "Qwen2-VL-7B-Instruct", "7B parameters", 3584, None,
                             "https://huggingface.co/Alibaba-NLP/gme-Qwen2-VL-7B-Instruct")),
    ),
))
