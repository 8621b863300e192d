"""The 18 MMEB-V2 video tasks (main metric hit@1).

Hub rows differ between datasets; where the family loader cannot read them as they are, a ``transform``
below (one small function per dataset, row -> row) renames or reshapes the fields.  Frames live under
``video-tasks/frames/{video_cls,video_ret,video_mret,video_qa}/<dataset>/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from umeval_tasks.citations import cite

from umeval.core.registry import register_tasks
from umeval.core.spec import DataSource, Instructions, TaskSpec
from umeval.loaders.text import letter

F = "video-tasks/frames"
VIDEO_CAND = "Understand the content of the provided video."
QA_PROMPT = ("Given a video and a question, select the most accurate answer from the provided candidates. "
             "Return only the exact text of your chosen answer. Question: ")
MVBENCH_SUBSETS = [
    "episodic_reasoning", "action_sequence", "action_prediction", "action_antonym", "fine_grained_action",
    "unexpected_action", "object_existence", "object_interaction", "object_shuffle", "moving_direction",
    "action_localization", "scene_transition", "action_count", "moving_count", "moving_attribute",
    "state_change", "fine_grained_pose", "character_order", "egocentric_navigation", "counterfactual_inference",
]


def labels(dataset: str) -> list[str]:
    """The fixed label list of a global video-classification dataset (``labels/<dataset>.txt``, one per line).

    These are the class names the official evaluation adds to the candidate pool after the rows' own labels,
    in the official order (which decides the candidates' order, and so ties).
    """
    return (Path(__file__).parent / "labels" / f"{dataset}.txt").read_text(encoding="utf-8").splitlines()


# ---------------------------------------------------------------- row transforms (hub row -> loader fields)
# The QA fields (question, options, names, listed, answer/label, video, notes) are described in
# umeval.loaders.video.load_qa; each transform restates its official parser (src/data/eval_dataset/*.py).

def first_caption(row: dict[str, Any]) -> dict[str, Any]:
    """MSVD: ``caption`` is a list; the first one is the query."""
    return {**row, "caption": row["caption"][0] if isinstance(row["caption"], list) else row["caption"]}


def vatex(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "video_id": row["videoID"], "caption": row["enCap"][0]}


def didemo(row: dict[str, Any]) -> dict[str, Any]:
    """DiDeMo names a video by file path; the official id is the file name without its extension."""
    return {**row, "video": os.path.splitext(os.path.basename(str(row["video"])))[0]}


def _strip_letter(option: str) -> str:
    """``"A. a red ball."`` -> ``"a red ball"``: from the first ". " on, dots and spaces stripped at both ends.

    The official ``o[o.find('. '):].strip('. ')`` keeps only the last character of an option without ". "
    (``find`` gives -1); such an option keeps its whole text here instead (a deliberate deviation, counted).
    """
    return option[option.find(". "):].strip(". ") if ". " in option else option.strip(". ")


def _unlettered(options: list[str]) -> dict[str, int]:
    return {"queries_with_unlettered_options": int(any(". " not in o for o in options))}


def videomme(row: dict[str, Any]) -> dict[str, Any]:
    """videomme_dataset.py:32-71: options listed under the question, candidates named by the full option."""
    opts = [str(o) for o in row["options"]]
    return {"question": row["question"] + "\n" + "\n".join(opts), "options": [_strip_letter(o) for o in opts],
            "names": opts, "answer": "ABCD".index(row["answer"]), "video": str(row["videoID"]),
            "notes": _unlettered(opts)}


def egoschema(row: dict[str, Any]) -> dict[str, Any]:
    """egoschema_dataset.py:32-73: options joined by spaces straight after the question."""
    opts = [str(o) for o in row["option"]]
    return {"question": row["question"] + " ".join(opts), "options": [_strip_letter(o) for o in opts],
            "names": opts, "answer": int(row["answer"]), "video": str(row["video_idx"]),
            "notes": _unlettered(opts)}


def nextqa(row: dict[str, Any]) -> dict[str, Any]:
    """nextqa_dataset.py:32-73: options listed as (A)..(E) after the prompted question; bare option candidates."""
    opts = [str(row[f"a{i}"]) for i in range(5)]
    return {"question": row["question"], "listed": opts, "options": opts, "answer": int(row["answer"]),
            "video": str(row["video"])}


def mvbench(row: dict[str, Any]) -> dict[str, Any]:
    """mvbench_dataset.py:116-159 with qa_template: candidates "(A) c", listed after the question.

    The positive is the last candidate equal to ``answer``, or, when none is, "(@) answer", which matches no
    candidate (the query scores 0; counted).
    """
    cands = list(row["candidates"])
    hit = max((i for i, c in enumerate(cands) if c == row["answer"]), default=-1)
    named = [f"({letter(i)}) {c}" for i, c in enumerate(cands)]
    return {"question": row["question"], "listed": [str(c) for c in cands], "options": named,
            "label": f"({letter(hit)}) {row['answer']}", "video": f"{row['subset']}/{row['video']}",
            "notes": {"answer_not_in_candidates": int(hit < 0)}}


def activitynetqa(row: dict[str, Any]) -> dict[str, Any]:
    """activitynetqa_dataset.py:36-76: a yes/no question; an answer other than "yes"/"no" is an error there too."""
    return {"question": row["question"] + "? (A) yes; (B) no.", "options": ["yes", "no"],
            "answer": ["yes", "no"].index(str(row["answer"])), "video": f"v_{row['video_name']}"}


# ---------------------------------------------------------------- specs

def _spec(name: str, meta: str, family: str, hub: str, media: str, pool: str, q: str, c: str, qm: str, cm: str,
          *, subset: str | None = None, split: str = "test", **kw: Any) -> TaskSpec:
    return TaskSpec(name=name, modality="video", meta=meta, family=family,
                    source=DataSource(hub_id=hub, subset=subset, split=split, media_dir=media),
                    query_modality=qm, candidate_modality=cm, pool=pool,  # type: ignore[arg-type]
                    instructions={"official": Instructions(query=q, candidate=c)}, main_metric="hit@1",
                    citation=cite(name), **kw)


def _cls(name: str, hub: str, folder: str, q: str, **kw: Any) -> TaskSpec:
    return _spec(name, "V-CLS", "video_cls", hub, f"{F}/video_cls/{folder}", kw.pop("pool", "global"), q, "",
                 "video", "text", **kw)


def _ret(name: str, hub: str, q: str, **kw: Any) -> TaskSpec:
    return _spec(name, "V-RET", "video_ret", hub, f"{F}/video_ret/{name}", "global", q, VIDEO_CAND, "text", "video",
                 **kw)


def _qa(name: str, hub: str, transform: str, **kw: Any) -> TaskSpec:
    return _spec(name, "V-QA", "video_qa", hub, f"{F}/video_qa/{name}", "local", QA_PROMPT, "", "video+text",
                 "text", transform=f"umeval_tasks.video:{transform}", **kw)


MRET_Q = "Find the clip that corresponds to the described scene in the given video:"

register_tasks([
    _cls("K700", "VLM2Vec/Kinetics-700", "K700", "Recognize the category of the video content.",
         options={"labels": labels("K700")}),
    _cls("SmthSmthV2", "VLM2Vec/SmthSmthV2", "SSv2",
         "What actions or object interactions are being performed by the person in the video?", pool="local",
         max_queries=1000, options={"candidates_field": "neg_text"}),
    _cls("HMDB51", "VLM2Vec/HMDB51", "HMDB51", "What actions or objects interactions are the person in the video doing?",
         options={"labels": labels("HMDB51")}),
    _cls("UCF101", "VLM2Vec/UCF101", "UCF101", "What activities or sports are being performed by the person in the video?",
         options={"labels": labels("UCF101")}),
    _cls("Breakfast", "VLM2Vec/Breakfast", "Breakfast",
         "Recognize the breakfast type that the person is cooking in the video. ", options={"labels": labels("Breakfast")}),
    _qa("MVBench", "VLM2Vec/MVBench", "mvbench", split="train", options={"subsets": MVBENCH_SUBSETS}),
    _qa("Video-MME", "VLM2Vec/Video-MME", "videomme"),
    _qa("NExTQA", "VLM2Vec/NExTQA", "nextqa", subset="MC"),
    _qa("EgoSchema", "VLM2Vec/EgoSchema", "egoschema", subset="Subset"),
    _qa("ActivityNetQA", "VLM2Vec/ActivityNetQA", "activitynetqa"),
    _ret("DiDeMo", "VLM2Vec/DiDeMo", "Find a video that includes the following described scenes:",
         options={"video_field": "video"}, transform="umeval_tasks.video:didemo"),
    _ret("MSR-VTT", "VLM2Vec/MSR-VTT", "Find a video that contains the following visual content:", subset="test_1k"),
    _ret("MSVD", "VLM2Vec/MSVD", "Find the video snippet that corresponds to the given summary:",
         transform="umeval_tasks.video:first_caption"),
    _ret("VATEX", "VLM2Vec/VATEX", "Select a video that fits the description provided:",
         transform="umeval_tasks.video:vatex"),
    _ret("YouCook2", "lmms-lab/YouCook2", "Find a video that demonstrates the following action while making a recipe:",
         split="val", options={"video_field": "id", "query_field": "sentence"}),
    _spec("QVHighlight", "V-MRET", "video_mret", "VLM2Vec/QVHighlight", f"{F}/video_mret/QVHighlight", "local",
          MRET_Q, VIDEO_CAND, "video+text", "video"),
    _spec("Charades-STA", "V-MRET", "video_mret", "VLM2Vec/Charades-STA", f"{F}/video_mret/Charades_STA", "local",
          MRET_Q, VIDEO_CAND, "video+text", "video"),
    _spec("MomentSeeker", "V-MRET", "momentseeker", "VLM2Vec/MomentSeeker", f"{F}/video_mret/MomentSeeker", "local",
          "", "Understand the content of the provided video clip.", "text|image+text|video+text", "video",
          options={"instructions": {
              "video": "Find the clip that corresponds to the given sentence and video segment:",
              "image": "Select the video clip that aligns with the given text and image:",
              "text": "Find the clip that corresponds to the given text:"}}),
])
