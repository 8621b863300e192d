"""VLM2Vec (TIGER-AI-Lab) on Qwen2-VL as the official MMEB-V2 eval runs it: V2.0 and the two V1 checkpoints.

The parser's text as it is, no chat template, last token, L2-normalised (:mod:`umeval.models.vlm2vec.prompt`).
V1 differs only by the eval script's ``--resize_use_processor false --image_resolution high``: format
``vlm2vec-v1``.  The encoders are the engine's Qwen2-VL encoders (HF, vLLM).  Published per-task scores of
the V1 checkpoints: ``reference/`` (written by ``docs/scripts/all_scores_to_reference.py``).
"""

from umeval.models.cost import Qwen2VLCost
from umeval.models.family import Checkpoint, ModelCard, ModelMeta, register_family

#: The official V1 eval loads these hub repositories as full Qwen2-VL models (eval_vlm2vecv1_8gpu.sh, no
#: ``--lora``); no public record pins their commit.
NOT_PINNED = "no public record of the commit (mteb pins none for the Qwen2-VL V1 checkpoints): branch main"

register_family(ModelMeta(
    name="vlm2vec",
    description="VLM2Vec: the MMEB authors' embedders on Qwen2-VL (V2.0; V1 Qwen2VL-2B/7B)",
    encoders={"hf": "umeval.encoders.qwen2vl:Qwen2VLEncoder", "vllm": "umeval.encoders.vllm_backend:VllmEncoder"},
    prompts={"vlm2vec": "umeval.models.vlm2vec.prompt:vlm2vec",
             "vlm2vec-v1": "umeval.models.vlm2vec.prompt:vlm2vec_v1"},
    modes=("disc",),
    pooling="last token (right padding, read at length - 1), L2-normalised",
    preprocessing="images under 28 px resized to 56x56, RGB; the processor's min/max_pixels per image and frame; "
                  "V1: every image and frame first resized to 1344x1344 (video-QA query frames excepted)",
    checkpoints=(
        Checkpoint("vlm2vec-v2", "VLM2Vec/VLM2Vec-V2.0", "e39ff079b8275ef876d3656da8c0bddbff3c4dde",
                   "mteb model metadata (vlm2vec2 ModelMeta.revision)",
                   ModelCard("VLM2Vec-V2.0", "Qwen2-VL-2B-Instruct", "2B parameters", 1536, None,
                             "https://huggingface.co/VLM2Vec/VLM2Vec-V2.0"), backbone="qwen2-vl-2b"),
        Checkpoint("vlm2vec-v1-qwen2vl-2b", "TIGER-Lab/VLM2Vec-Qwen2VL-2B", "main", NOT_PINNED,
                   ModelCard("VLM2Vec-V1-Qwen2VL-2B", "Qwen2-VL-2B-Instruct", "2B parameters", 1536, "2025-02",
                             "https://huggingface.co/TIGER-Lab/VLM2Vec-Qwen2VL-2B")),
        Checkpoint("vlm2vec-v1-qwen2vl-7b", "TIGER-Lab/VLM2Vec-Qwen2VL-7B", "main", NOT_PINNED,
                   ModelCard("VLM2Vec-V1-Qwen2VL-7B", "Qwen2-VL-7B-Instruct", "7B parameters", 3584, "2025-02",
                             "https://huggingface.co/TIGER-Lab/VLM2Vec-Qwen2VL-7B")),
    ),
    # processor.py:121-134 loads the vendored slow Qwen2VLImageProcessor (PIL bicubic resize).
    slow_image_processor=True,
    token_cost=Qwen2VLCost(small_side=28, small_to=56),  # its parser's rule for images under 28 px
    version="3",  # 3: slow image processor
))
