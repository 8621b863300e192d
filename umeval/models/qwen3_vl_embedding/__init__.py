"""Qwen3-VL-Embedding (Qwen/Qwen3-VL-Embedding-2B, -8B) as its authors' MMEB-V2 evaluation feeds it.

The authors' evaluation (QwenLM/Qwen3-VL-Embedding ``src/evaluation/mmeb_v2/``, adapted from the official
code) writes its own inputs: the task's instruction in a system turn for queries, the default one for
candidates, its own pixel bounds and a 64-frame video budget (:mod:`umeval.models.qwen3_vl_embedding.prompt`).
The engine's HF encoder runs it (``AutoModelForImageTextToText`` picks Qwen3-VL from the checkpoint; the state
is read at the last token; L2-normalised), and so does the vLLM encoder (below).  ``cost.py`` is its token
cost (32 x 32 pixels per token, the format's own video budget); ``tiny.py`` builds a tiny random Qwen3-VL for the
tests.  Published scores: overall and per category only (the authors' README table; ``reference/``).

**On vLLM** (``backend=vllm``, and ``backend=auto`` where vLLM and a GPU are there).  What the authors and vLLM
publish, restated (QwenLM/Qwen3-VL-Embedding at 8ce3aab1fbcc7b7143b094f0b2005dd89e7246b9, "A"; vllm-project/vllm
``examples/pooling/embed/vision_embedding_offline.py`` at 010ffcc581034b30845282e4fa7c8fc29d7c2745, "V"; the
installed vLLM 0.32.0 package, "P"):

* Runner: the pooling runner on the checkpoint as published, nothing converted by hand (A README.md:187-191 asks
  for vLLM >= 0.14; A examples/embedding_vllm.ipynb:769-774 ``LLM(model=..., runner="pooling", dtype bfloat16)``;
  V:28-35 the same with ``max_model_len=8192`` and one image per prompt).  umeval adds ``convert="embed"``.
* Pooling and normalisation: the engine's defaults for this checkpoint, read at the last token (the notebook's
  engine log, A embedding_vllm.ipynb:239, shows sequence pooling ``LAST``), and unit vectors out of ``embed``
  (its similarity matrix has 1.0 on the diagonal, A embedding_vllm.ipynb:932-936).  The HF evaluation does the
  same by hand: last non-padding state, ``F.normalize`` (A src/models/qwen3_vl_embedding.py:365-391).  umeval
  asks vLLM for LAST pooling without activation and normalises itself, as on HF.
* Dimension: 2,048 for the 2B checkpoint (A embedding_vllm.ipynb:882), the hidden size; 4,096 for the 8B.
* Input: the notebook renders the checkpoint's chat template to text (system turn with the instruction, user
  turn with the image then the text) and gives the raw image as ``multi_modal_data`` (A
  embedding_vllm.ipynb:46-122); V writes the placeholder ``<|vision_start|><|image_pad|><|vision_end|>`` into a
  literal prompt (V:35).  Neither shows a video, a pre-resize or processor arguments.  The MMEB-V2 evaluation
  (HF) resizes images and videos itself and calls the processor with ``do_resize=False`` and the videos'
  metadata (A src/models/qwen3_vl_embedding.py:337-358).  umeval feeds vLLM that same input: the format's
  prompt, its resized images, each video as its float (frames, 3, H, W) tensor paired with its metadata (fps,
  frame indices: vLLM requires metadata for a Qwen3-VL video and writes the timestamps from it, P
  model_executor/models/qwen3_vl.py:944 and 1491-1525, multimodal/parse.py:648-665 and 823-830), and
  ``do_resize=False`` as per-request ``mm_processor_kwargs`` (P inputs/llm.py:81).  The expanded prompt vLLM
  builds is token for token the HF processor's (tests/test_qwen3_vl_vllm.py).
* Normalisation of pixels: vLLM 0.32 moves rescale/normalise onto the device for Qwen3-VL and takes mean/std
  from the *image* processor's configuration for videos too (P qwen3_vl.py:1964,
  model_executor/layers/fusion/mm_input_norm.py:145-165); Qwen3-VL's image and video processors both use
  mean = std = 0.5, so nothing changes here, and the vLLM encoder leaves normalisation to the HF processor for a
  checkpoint whose two processors differ.
"""

from umeval.models.family import Checkpoint, ModelCard, ModelMeta, register_family
from umeval.models.qwen3_vl_embedding.cost import QWEN3_VL_EMBEDDING_COST

NOT_PINNED = "no public record of the commit: branch main"

register_family(ModelMeta(
    name="qwen3-vl-embedding",
    description="Qwen3-VL-Embedding: Qwen3-VL multimodal embedder (authors' MMEB-V2 evaluation)",
    encoders={"hf": "umeval.encoders.qwen2vl:Qwen2VLEncoder", "vllm": "umeval.encoders.vllm_backend:VllmEncoder"},
    prompts={"qwen3-vl-embedding": {"query": "umeval.models.qwen3_vl_embedding.prompt:query",
                                    "candidate": "umeval.models.qwen3_vl_embedding.prompt:candidate"}},
    version="2",  # 2: a video is its bare placeholder (the authors' expanded tokens under transformers 5.x)
    roles="differ",  # queries carry the task's instruction, candidates the default one
    modes=("disc",),
    pooling="last token (the line break after the assistant header), L2-normalised",
    preprocessing="images: RGB, smart_resize to multiples of 32 in 4,096..1,843,200 px; videos: <= 64 frames, "
                  "each rounded to multiples of 64, then the stack to multiples of 32 under a 7,864,320 px total; "
                  "the processor does not resize again",
    token_cost=QWEN3_VL_EMBEDDING_COST,  # 32 x 32 pixels per token; the format's own video budget (cost.py)
    checkpoints=(
        Checkpoint("qwen3-vl-embedding-2b", "Qwen/Qwen3-VL-Embedding-2B", "main", NOT_PINNED,
                   ModelCard("Qwen3-VL-Embedding-2B", "Qwen3-VL-2B-Instruct", "2B parameters", 2048, None,
                             "https://huggingface.co/Qwen/Qwen3-VL-Embedding-2B")),
        Checkpoint("qwen3-vl-embedding-8b", "Qwen/Qwen3-VL-Embedding-8B", "main", NOT_PINNED,
                   ModelCard("Qwen3-VL-Embedding-8B", "Qwen3-VL-8B-Instruct", "8B parameters", 4096, None,
                             "https://huggingface.co/Qwen/Qwen3-VL-Embedding-8B")),
        Checkpoint("tiny-qwen3vl-embedding", "(built offline by umeval.models.qwen3_vl_embedding.tiny)", "tiny-2",
                   card=ModelCard("tiny-qwen3vl-embedding", "random Qwen3-VL (2 layers, width 128)",
                                  "about 0.3M parameters", 128)),
    ),
))
