"""The embedded default: three tiny tasks, one of each shape.

umeval generates their data offline in the official MMEB-V2 layouts (image local ranking, text-to-video global
retrieval, graded visdoc retrieval).
"""

from umeval.core.registry import register_tasks
from umeval.core.spec import DataSource, Instructions, TaskSpec

register_tasks([
    TaskSpec(
        name="Mini-ImageCLS", modality="image", meta="I-CLS", family="mmeb_image",
        source=DataSource(hub_id="umeval-mini/MMEB_Test_Instruct", subset="Mini-ImageCLS", split="test",
                          media_dir="image-tasks", generated=True),
        query_modality="image", candidate_modality="text", pool="local", main_metric="hit@1",
        instructions={"official": Instructions(query="Represent the given image for classification")},
        benchmark="mini", groups=("mini",), description="Coloured shapes, label list per query (ImageNet-1K shape).",
    ),
    TaskSpec(
        name="Mini-T2V", modality="video", meta="V-RET", family="video_ret",
        source=DataSource(hub_id="umeval-mini/MSR-VTT", subset="test_1k", split="test",
                          media_dir="video-tasks/frames/video_ret/Mini-T2V", generated=True),
        query_modality="text", candidate_modality="video", pool="global", main_metric="hit@1",
        instructions={"official": Instructions(query="Find a video that contains the following visual content:",
                                               candidate="Understand the content of the provided video.")},
        benchmark="mini", groups=("mini",), description="Caption to video over all videos (MSR-VTT shape).",
    ),
    TaskSpec(
        name="Mini-VisDoc", modality="visdoc", meta="ViDoRe-V1", family="beir",
        source=DataSource(hub_id="umeval-mini/vidore_beir", split="test", generated=True),
        query_modality="text", candidate_modality="image", pool="global", main_metric="ndcg_linear@5",
        instructions={"official": Instructions(query="Find a document image that matches the given query:",
                                               candidate="Understand the content of the provided document image.")},
        benchmark="mini", groups=("mini",), description="Graded page retrieval in BEIR layout (ViDoRe shape).",
    ),
])
