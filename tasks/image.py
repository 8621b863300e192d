"""The 36 MMEB-V2 image tasks: ``ziyjiang/MMEB_Test_Instruct``, one subset per task, split ``test``.

Every query ranks its own 1000-candidate list, positive first (``local``); main metric hit@1.  The
instructions are read per row from the data (``qry_inst``/``tgt_inst``), as the official evaluation does, so
the specs hold none.
"""

from umeval.registry import register_tasks
from umeval.spec import DataSource, TaskSpec

HUB = "ziyjiang/MMEB_Test_Instruct"

# meta-category -> [(task, query modality, candidate modality)]
TASKS = {
    "I-CLS": [(t, "image", "text") for t in (
        "ImageNet-1K", "N24News", "HatefulMemes", "VOC2007", "SUN397", "Place365", "ImageNet-A", "ImageNet-R",
        "ObjectNet", "Country211")],
    "I-QA": [(t, "image+text", "text") for t in (
        "OK-VQA", "A-OKVQA", "DocVQA", "InfographicsVQA", "ChartQA", "Visual7W", "ScienceQA", "VizWiz", "GQA",
        "TextVQA")],
    "I-RET": [
        ("VisDial", "text", "image"), ("CIRR", "image+text", "image"), ("VisualNews_t2i", "text", "image"),
        ("VisualNews_i2t", "image", "text"), ("MSCOCO_t2i", "text", "image"), ("MSCOCO_i2t", "image", "text"),
        ("NIGHTS", "image", "image"), ("WebQA", "text", "image+text"), ("FashionIQ", "image+text", "image"),
        ("Wiki-SS-NQ", "text", "image"), ("OVEN", "image+text", "image+text"), ("EDIS", "text", "image+text"),
    ],
    "I-VG": [("MSCOCO", "image+text", "image"), ("RefCOCO", "image+text", "image"),
             ("RefCOCO-Matching", "image+text", "image+text"), ("Visual7W-Pointing", "image+text", "image")],
}

register_tasks(
    TaskSpec(
        name=name, modality="image", meta=meta, family="mmeb_image",
        source=DataSource(hub_id=HUB, subset=name, split="test", media_dir="image-tasks"),
        query_modality=qm, candidate_modality=cm, pool="local", main_metric="hit@1",
    )
    for meta, rows in TASKS.items() for name, qm, cm in rows
)
