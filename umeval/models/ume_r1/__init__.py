"""UME-R1 (zhibinlan/UME-R1-2B, -7B): Qwen2-VL with ``<disc_emb>``/``<gen_emb>``, discriminative and generative.

The prompt format is :func:`umeval.models.ume_r1.prompt.ume_r1`; the encoders are the engine's Qwen2-VL encoders
(HF, and vLLM for both modes); ``tiny.py`` builds the tiny random Qwen2-VL of the tests.
"""

from umeval.models.cost import Qwen2VLCost
from umeval.models.family import Checkpoint, ModelCard, ModelMeta, register_family

MTEB = "mteb model metadata (ume_r1 ModelMeta.revision)"

register_family(ModelMeta(
    name="ume-r1",
    description="UME-R1: reasoning-driven generative multimodal embeddings on Qwen2-VL",
    encoders={"hf": "umeval.encoders.qwen2vl:Qwen2VLEncoder", "vllm": "umeval.encoders.vllm_backend:VllmEncoder"},
    prompts={"ume-r1": "umeval.models.ume_r1.prompt:ume_r1"},
    modes=("disc", "gen"),
    pooling="disc: last-layer state at the last <disc_emb> of the prompt; gen: at the last generated <gen_emb> "
            "(else the last real generated token), L2-normalised",
    preprocessing="qwen-vl-utils 0.0.11 fetch_image/fetch_video, then the processor's min/max_pixels per image "
                  "and frame; text-only items get the authors' blank 28x28 image",
    checkpoints=(
        Checkpoint("ume-r1-2b", "zhibinlan/UME-R1-2B", "e7aaa253cd315be20bd15c8704ad281b4fdf82c9", MTEB,
                   ModelCard("UME-R1-2B", "Qwen2-VL-2B-Instruct", "2B parameters", 1536, None,
                             "https://huggingface.co/zhibinlan/UME-R1-2B"), backbone="qwen2-vl-2b"),
        Checkpoint("ume-r1-7b", "zhibinlan/UME-R1-7B", "b5c08e3273d979e0f22445306717c39ca8d45df0", MTEB,
                   ModelCard("UME-R1-7B", "Qwen2-VL-7B-Instruct", "7B parameters", 3584, None,
                             "https://huggingface.co/zhibinlan/UME-R1-7B"), backbone="qwen2-vl-7b"),
        Checkpoint("tiny-qwen2vl", "(built offline by umeval.models.ume_r1.tiny)", "tiny-1",
                   card=ModelCard("tiny-qwen2vl", "random Qwen2-VL (2 layers, width 128)", "about 0.5M parameters",
                                  128)),
    ),
    # disc_readout: "disc_emb" (default, the corrected rule) reads the state at the last <disc_emb>; "paper" reads
    # the token after it (the "\n"), as the authors' evaluation code did when the published disc and oracle
    # numbers were made (Kikcer/lume 08891de src/eval/VLM2Vec/eval_twomode.py:39-57, 141-147).  Keyed (every family
    # option is part of the store key) and recorded in every result row (model_options).
    options={"disc_readout": "disc_emb"},
    option_choices={"disc_readout": ("disc_emb", "paper")},
    # qwen-vl-utils resizes every image and frame to 3,136..12,845,056 pixels before the processor; a text-only
    # item carries the authors' blank 28x28 image (4 tokens after that resize).
    token_cost=Qwen2VLCost(pre_resize=(4 * 28 * 28, 16384 * 28 * 28), text_only_image=(28, 28)),
    version="2",  # 2: official texts, qwen-vl-utils media, call-time pixel bounds
))
