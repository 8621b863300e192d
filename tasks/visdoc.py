"""The 24 MMEB-V2 visual-document tasks.

BEIR layout (``queries``/``corpus``/``qrels`` subsets), every query ranks the whole corpus (``global``),
graded relevance, main metric ndcg_linear@5.

Instruction sets: ``official`` is the current MMEB-V2 prompt; ``ume-r1`` is the UME-R1 authors' copy of the
evaluation (Kikcer/lume at 08891de, ``src/eval/VLM2Vec/src/data/eval_dataset/vidore_dataset.py``), which set
both instructions to "" in the ``vidore`` parser, i.e. for every task that parser reads: the ViDoRe tasks and
ViDoSeek/MMLongBench (page and doc); VisRAG (its own parser) kept the official ones.  The three English-only
ViDoRe-V2 variants of the official config are not among the 78 tasks and are not registered.

ViDoSeek-page and MMLongBench-page read the fixed page-level data (``VLM2Vec/*-page-fixed``, the official
``src/constant/dataset_hf_path.py``); the official report script exports them as ``<task>-fixed``, which
is their ``export_name`` and also selects them.  Every result row records ``data_version`` (hub id and
revision), so a score on the earlier data (``VLM2Vec/ViDoSeek-page``, ``VLM2Vec/MMLongBench``, which the
UME-R1 authors' copy read) is never mistaken for one on the fixed data.
"""

from umeval_tasks.citations import cite

from umeval.core.registry import register_tasks
from umeval.core.spec import DataSource, Instructions, TaskSpec

OFFICIAL = Instructions(query="Find a document image that matches the given query:",
                        candidate="Understand the content of the provided document image.")
EMPTY = Instructions(query="", candidate="")

# (task, meta, hub id, split)
TASKS = [
    ("ViDoRe_arxivqa", "ViDoRe-V1", "vidore/arxivqa_test_subsampled_beir", "test"),
    ("ViDoRe_docvqa", "ViDoRe-V1", "vidore/docvqa_test_subsampled_beir", "test"),
    ("ViDoRe_infovqa", "ViDoRe-V1", "vidore/infovqa_test_subsampled_beir", "test"),
    ("ViDoRe_tabfquad", "ViDoRe-V1", "vidore/tabfquad_test_subsampled_beir", "test"),
    ("ViDoRe_tatdqa", "ViDoRe-V1", "vidore/tatdqa_test_beir", "test"),
    ("ViDoRe_shiftproject", "ViDoRe-V1", "vidore/shiftproject_test_beir", "test"),
    ("ViDoRe_syntheticDocQA_artificial_intelligence", "ViDoRe-V1",
     "vidore/syntheticDocQA_artificial_intelligence_test_beir", "test"),
    ("ViDoRe_syntheticDocQA_energy", "ViDoRe-V1", "vidore/syntheticDocQA_energy_test_beir", "test"),
    ("ViDoRe_syntheticDocQA_government_reports", "ViDoRe-V1",
     "vidore/syntheticDocQA_government_reports_test_beir", "test"),
    ("ViDoRe_syntheticDocQA_healthcare_industry", "ViDoRe-V1",
     "vidore/syntheticDocQA_healthcare_industry_test_beir", "test"),
    ("ViDoRe_esg_reports_human_labeled_v2", "ViDoRe-V2", "vidore/esg_reports_human_labeled_v2", "test"),
    ("ViDoRe_biomedical_lectures_v2_multilingual", "ViDoRe-V2", "vidore/biomedical_lectures_v2", "test"),
    ("ViDoRe_economics_reports_v2_multilingual", "ViDoRe-V2", "vidore/economics_reports_v2", "test"),
    ("ViDoRe_esg_reports_v2_multilingual", "ViDoRe-V2", "vidore/esg_reports_v2", "test"),
    ("VisRAG_ArxivQA", "VisRAG", "openbmb/VisRAG-Ret-Test-ArxivQA", "train"),
    ("VisRAG_ChartQA", "VisRAG", "openbmb/VisRAG-Ret-Test-ChartQA", "train"),
    ("VisRAG_MP-DocVQA", "VisRAG", "openbmb/VisRAG-Ret-Test-MP-DocVQA", "train"),
    ("VisRAG_SlideVQA", "VisRAG", "openbmb/VisRAG-Ret-Test-SlideVQA", "train"),
    ("VisRAG_InfoVQA", "VisRAG", "openbmb/VisRAG-Ret-Test-InfoVQA", "train"),
    ("VisRAG_PlotQA", "VisRAG", "openbmb/VisRAG-Ret-Test-PlotQA", "train"),
    ("ViDoSeek-page", "VisDoc-OOD", "VLM2Vec/ViDoSeek-page-fixed", "test"),
    ("ViDoSeek-doc", "VisDoc-OOD", "VLM2Vec/ViDoSeek", "test"),
    ("MMLongBench-page", "VisDoc-OOD", "VLM2Vec/MMLongBench-page-fixed", "test"),
    ("MMLongBench-doc", "VisDoc-OOD", "VLM2Vec/MMLongBench-doc", "test"),
]

FIXED = {"ViDoSeek-page", "MMLongBench-page"}  # report_score_v2.py:142 exports these as "<name>-fixed"


def _spec(name: str, meta: str, hub: str, split: str) -> TaskSpec:
    visrag = meta == "VisRAG"
    return TaskSpec(
        name=name, modality="visdoc", meta=meta, family="beir",
        source=DataSource(hub_id=hub, split=split, media_dir=f"visdoc-tasks/{name}"),
        query_modality="text", candidate_modality="image", pool="global", main_metric="ndcg_linear@5",
        instructions={"official": OFFICIAL, "ume-r1": OFFICIAL if visrag else EMPTY},
        options={"page_format": "corpus_id_extension"} if visrag else {},
        export_name=f"{name}-fixed" if name in FIXED else None,
        aliases=(f"{name}-fixed",) if name in FIXED else (), citation=cite(name),
    )


register_tasks(_spec(*t) for t in TASKS)
