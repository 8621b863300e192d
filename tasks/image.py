"""The 36 MMEB-V2 image tasks: ``ziyjiang/MMEB_Test_Instruct``, one subset per task, split ``test``.

Every query ranks its own 1000-candidate list, positive first (``local``); main metric hit@1.  The
instructions are read per row from the data (``qry_inst``/``tgt_inst``), as the official evaluation does, so
the specs hold none.  Each task names the official parser it is read by (``experiments/public/eval/image.yaml``
of TIGER-AI-Lab/VLM2Vec) through that parser's text rules below, applied by :mod:`umeval.loaders.mmeb_image`.
"""

from typing import Any

from umeval_tasks.citations import cite

from umeval.core.registry import register_tasks
from umeval.core.spec import DataSource, TaskSpec

HUB = "ziyjiang/MMEB_Test_Instruct"

# The text rules of each official parser (src/data/eval_dataset/*.py); keys are read by umeval.loaders.mmeb_image.
# image_cls_dataset.py:17-27 and image_i2t_eval.py:17-27: image query, qry_inst without <|image_1|>, bare tgt_text.
CLS: dict[str, Any] = {"query_image": True, "query_inst_token": "", "query_inst_newline": False,
                       "query_fix_newlines": True, "query_suffix": "\n", "candidate_image": False,
                       "candidate_name": "text"}
I2T = CLS
# image_qa_dataset.py:17-27: as CLS, the instruction stripped and put after a newline.
QA: dict[str, Any] = {**CLS, "query_inst_newline": True}
# image_t2i_eval.py:18-46: text query "qry_inst + ' ' + qry_text + '\n'" (qry_img_path unread), image candidates
# named by their path.
T2I: dict[str, Any] = {"query_image": False, "query_inst_token": "<|image_pad|>", "query_inst_newline": False,
                       "query_join_empty": True, "query_fix_newlines": False, "query_suffix": "\n",
                       "candidate_image": True, "candidate_name": "path", "candidate_blank_suffix": "\n"}
T2I_VISDIAL: dict[str, Any] = {**T2I, "query_suffix": "\n\n"}  # image_t2i_eval.py:20-21
# image_i2i_vg_dataset.py:17-47: QA-style query, image candidates named path:caption, no "\n" after a blank caption.
I2I_VG: dict[str, Any] = {**QA, "candidate_image": True, "candidate_name": "path:caption",
                          "candidate_blank_suffix": ""}

# meta-category -> [(task, query modality, candidate modality, parser rules)]
TASKS: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = {
    "I-CLS": [(t, "image", "text", CLS) for t in (
        "ImageNet-1K", "N24News", "HatefulMemes", "VOC2007", "SUN397", "Place365", "ImageNet-A", "ImageNet-R",
        "ObjectNet", "Country211")],
    "I-QA": [(t, "image+text", "text", QA) for t in (
        "OK-VQA", "A-OKVQA", "DocVQA", "InfographicsVQA", "ChartQA", "Visual7W", "ScienceQA", "VizWiz", "GQA",
        "TextVQA")],
    "I-RET": [
        ("VisDial", "text", "image", T2I_VISDIAL), ("CIRR", "image+text", "image", I2I_VG),
        ("VisualNews_t2i", "text", "image", T2I), ("VisualNews_i2t", "image", "text", I2T),
        ("MSCOCO_t2i", "text", "image", T2I), ("MSCOCO_i2t", "image", "text", I2T),
        ("NIGHTS", "image", "image", I2I_VG), ("WebQA", "text", "image+text", T2I),
        ("FashionIQ", "image+text", "image", I2I_VG), ("Wiki-SS-NQ", "text", "image", T2I),
        ("OVEN", "image+text", "image+text", I2I_VG), ("EDIS", "text", "image+text", T2I),
    ],
    "I-VG": [("MSCOCO", "image+text", "image", I2I_VG), ("RefCOCO", "image+text", "image", I2I_VG),
             ("RefCOCO-Matching", "image+text", "image+text", I2I_VG),
             ("Visual7W-Pointing", "image+text", "image", I2I_VG)],
}

register_tasks(
    TaskSpec(
        name=name, modality="image", meta=meta, family="mmeb_image",
        source=DataSource(hub_id=HUB, subset=name, split="test", media_dir="image-tasks"),
        query_modality=qm, candidate_modality=cm, pool="local", main_metric="hit@1", options=dict(rules),
        citation=cite(name, image=True),
    )
    for meta, rows in TASKS.items() for name, qm, cm, rules in rows
)
