"""ColPali-v1.3 as the official MMEB-V2 code runs it: late interaction (a 128-d vector per token, MaxSim).

vidore/colpali-v1.3 (PaliGemma-3B, 448 px, 1,024 image tokens).  The official code loads the colpali-engine
checkpoint (a LoRA adapter on vidore/colpaligemma-3b-pt-448-base) into its vendored ``ColPali`` class; umeval
loads the transformers-native conversion of the same model, ``vidore/colpali-v1.3-hf``, into
``ColPaliForRetrieval`` (same projection, per-token normalisation and masking).  The input is
:mod:`umeval.models.colpali.prompt`; ``tiny.py`` builds a tiny random ColPali for the tests; published per-task
scores: ``reference/colpali-v1.3.json`` (official v2.0.1 and v2.1 score files).
"""

from umeval.models.family import Checkpoint, ModelMeta, register_family

register_family(ModelMeta(
    name="colpali",
    description="ColPali: PaliGemma late-interaction retriever, MaxSim over 128-d token vectors (official baseline)",
    encoders={"hf": "umeval.models.colpali.encoder:ColPaliEncoder"},
    prompts={"colpali": "umeval.models.colpali.prompt:colpali"},
    modes=("disc",),
    pooling="none: every position's projected state, L2-normalised per token (late interaction, MaxSim)",
    preprocessing="first image or first video frame only, text dropped when there is one; PaliGemma processor",
    checkpoints=(
        Checkpoint("colpali-v1.3", "vidore/colpali-v1.3-hf", "main",
                   "no public record pins the commit the official scores used (vidore/colpali-v1.3): branch main"),
        Checkpoint("tiny-colpali", "(built offline by umeval.models.colpali.tiny)", "tiny-1"),
    ),
))
