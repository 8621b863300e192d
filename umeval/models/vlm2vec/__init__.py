"""VLM2Vec-V2.0 (VLM2Vec/VLM2Vec-V2.0, Qwen2-VL-2B): the official parser's text, no chat template, last token.

The prompt format is :func:`umeval.encoders.prompts.vlm2vec`; the encoders are the engine's Qwen2-VL encoders.
"""

from umeval.models.cost import Qwen2VLCost
from umeval.models.family import Checkpoint, ModelMeta, register_family

register_family(ModelMeta(
    name="vlm2vec",
    description="VLM2Vec-V2: the MMEB-V2 authors' embedder on Qwen2-VL",
    encoders={"hf": "umeval.encoders.qwen2vl:Qwen2VLEncoder", "vllm": "umeval.encoders.vllm_backend:VllmEncoder"},
    prompts={"vlm2vec": "umeval.encoders.prompts:vlm2vec"},
    modes=("disc",),
    pooling="last token (right padding, read at length - 1), L2-normalised",
    preprocessing="images under 28 px resized to 56x56, RGB; the processor's min/max_pixels per image and frame",
    checkpoints=(Checkpoint("vlm2vec-v2", "VLM2Vec/VLM2Vec-V2.0", "e39ff079b8275ef876d3656da8c0bddbff3c4dde",
                            "mteb model metadata (vlm2vec2 ModelMeta.revision)", backbone="qwen2-vl-2b"),),
    token_cost=Qwen2VLCost(small_side=28, small_to=56),  # its parser's rule for images under 28 px
    version="2",
))
