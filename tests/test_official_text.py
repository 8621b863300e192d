"""What the loaders hand the model equals what the official MMEB-V2 parsers build, on small hand-written rows.

Every golden string below is derived by hand from TIGER-AI-Lab/VLM2Vec at commit 6e1e1d4 (file:line cited;
``process_input_text`` is src/model/processor.py:650-673) for the Qwen2-VL backbone.  Rows are written in the
hub's own parquet layout (``<root>/<hub_id>/<subset or data>/<split>-00000-of-00001.parquet``) under tmp_path.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from umeval.core.registry import discover_tasks, resolve_tasks
from umeval.core.types import TaskData
from umeval.data.synthetic import write_parquet
from umeval.loaders import LoadContext, load_task

PROMPT = ("Given a video and a question, select the most accurate answer from the provided candidates. "
          "Return only the exact text of your chosen answer. Question: ")


def spec(name: str):  # type: ignore[no-untyped-def]
    return discover_tasks().get(name)


def put_rows(root: Path, name: str, rows: list[dict[str, Any]], subset: str | None = None,
             image_columns: tuple[str, ...] = ()) -> None:
    src = spec(name).source
    sub = subset if subset is not None else src.subset
    folder = root / src.hub_id / sub if sub else root / src.hub_id / "data"
    write_parquet(rows, folder / f"{src.split}-00000-of-00001.parquet", image_columns=image_columns)


def picture(path: Path, seed: int = 0, size: tuple[int, int] = (24, 16)) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def frames(folder: Path, n: int, ext: str = ".jpg") -> None:
    for i in range(n):
        picture(folder / f"frame_{i + 1}{ext}", seed=i, size=(8, 8))


def load(name: str, root: Path, **kw: Any) -> TaskData:
    return load_task(spec(name), LoadContext(data_root=root, allow_hub=False, **kw))


def image_row(**kw: Any) -> dict[str, Any]:
    row = {"qry_inst": "", "qry_text": "", "qry_img_path": "", "tgt_inst": "", "tgt_text": [], "tgt_img_path": []}
    return {**row, **kw}


# ---------------------------------------------------------------- image tasks (items 1 and 2)

def test_classification_query_and_bare_label_candidates(tmp_path):
    """Catches: tgt_inst prepended to labels, tgt_img_path read, the placeholder/newline/suffix dropped."""
    picture(tmp_path / "image-tasks/ImageNet-1K/q0.jpg")
    put_rows(tmp_path, "ImageNet-1K", [image_row(
        qry_inst="<|image_1|>\nRepresent the given image for classification", qry_img_path="ImageNet-1K/q0.jpg",
        tgt_inst="Represent the class label: ", tgt_text=["tench", "goldfish"], tgt_img_path=["nope.jpg", ""])])
    data = load("ImageNet-1K", tmp_path)
    q = data.queries[0]
    # image_cls_dataset.py:17-20: "<|image_pad|> " + "\nRepresent..." then " \n" -> "\n", then + "\n".
    assert q.text == "<|image_pad|>\nRepresent the given image for classification\n"
    assert q.instruction == "" and q.image == str(tmp_path / "image-tasks/ImageNet-1K/q0.jpg")
    # image_cls_dataset.py:26-27: candidates are the bare tgt_text, without images; named by their text.
    assert [(c.id, c.text, c.image) for c in data.candidates] == [("tench", "tench", None),
                                                                  ("goldfish", "goldfish", None)]
    assert data.qrels == {"q0": {"tench": 1.0}}


def test_classification_with_query_text_fixes_space_newline_everywhere(tmp_path):
    """Catches: the " \\n" -> "\\n" rule applied to the instruction only, or the text not joined by one space."""
    picture(tmp_path / "image-tasks/N24News/q0.jpg")
    put_rows(tmp_path, "N24News", [image_row(
        qry_inst="<|image_1|>\nRepresent the given news image with the following caption for domain classification:",
        qry_text="A man \nwalks", qry_img_path="N24News/q0.jpg", tgt_text=["sports", "arts"])])
    (q,) = load("N24News", tmp_path).queries
    assert q.text == ("<|image_pad|>\nRepresent the given news image with the following caption for domain "
                      "classification: A man\nwalks\n")


def test_qa_query_strips_the_instruction_after_a_newline(tmp_path):
    """image_qa_dataset.py:17-20: "\\n" + inst.strip(), so a trailing space of the instruction goes."""
    picture(tmp_path / "image-tasks/OK-VQA/q0.jpg")
    put_rows(tmp_path, "OK-VQA", [image_row(
        qry_inst="<|image_1|> Represent the given image with the following question: ", qry_text="What is this?",
        qry_img_path="OK-VQA/q0.jpg", tgt_inst="Represent the answer", tgt_text=["a kite", "a bird"])])
    data = load("OK-VQA", tmp_path)
    assert data.queries[0].text == ("<|image_pad|>\nRepresent the given image with the following question: "
                                    "What is this?\n")
    assert [c.text for c in data.candidates] == ["a kite", "a bird"]


def test_image_to_text_is_read_like_classification(tmp_path):
    """image_i2t_eval.py:17-27."""
    picture(tmp_path / "image-tasks/MSCOCO_i2t/q0.jpg")
    put_rows(tmp_path, "MSCOCO_i2t", [image_row(
        qry_inst="<|image_1|>\nFind an image caption describing the given everyday image.",
        qry_img_path="MSCOCO_i2t/q0.jpg", tgt_inst="<|image_1|> ignored", tgt_text=["A dog runs.", "A cat."])])
    data = load("MSCOCO_i2t", tmp_path)
    assert data.queries[0].text == "<|image_pad|>\nFind an image caption describing the given everyday image.\n"
    assert [c.text for c in data.candidates] == ["A dog runs.", "A cat."]


@pytest.mark.parametrize(("task", "suffix"), [("MSCOCO_t2i", "\n"), ("VisDial", "\n\n")])
def test_text_to_image_query_ignores_the_row_image_and_candidates_are_named_by_path(task, suffix, tmp_path):
    """image_t2i_eval.py:18-23 (query, one more "\\n" for VisDial, no query image) and :34-38, :44 (candidates)."""
    for p in ("a.jpg", "b.jpg"):
        picture(tmp_path / "image-tasks" / task / p)
    put_rows(tmp_path, task, [image_row(
        qry_inst="Find me an everyday image that matches the given caption:", qry_text="A dog.",
        qry_img_path="does/not/exist.jpg", tgt_inst="<|image_1|>\nRepresent the given image.", tgt_text=["", ""],
        tgt_img_path=[f"{task}/a.jpg", f"{task}/b.jpg"])])
    data = load(task, tmp_path)
    q = data.queries[0]
    assert q.text == "Find me an everyday image that matches the given caption: A dog." + suffix and q.image is None
    # Blank first caption: "<|image_pad|> " + "\nRepresent the given image." -> " \n" fixed -> + "\n".
    assert [(c.id, c.text) for c in data.candidates] == [
        (f"{task}/a.jpg", "<|image_pad|>\nRepresent the given image.\n"),
        (f"{task}/b.jpg", "<|image_pad|>\nRepresent the given image.\n")]
    assert data.candidates[0].image == str(tmp_path / "image-tasks" / task / "a.jpg")


@pytest.mark.parametrize("task", ["WebQA", "EDIS"])
def test_webqa_edis_candidates_are_keyed_by_image_path(task, tmp_path):
    """Item 3. Catches: candidates keyed by (path, caption), so a same-path candidate is neither merged nor relevant.

    image_t2i_eval.py:44 names candidates by tgt_img_path; base_eval_dataset.py:129-137 keeps the first one
    seen under a name; eval.py:326-342 marks every pool entry named like the positive as relevant.
    """
    for p in ("p1.jpg", "p2.jpg", "p3.jpg"):
        picture(tmp_path / "image-tasks" / task / p)
    inst = "<|image_1|>\nRepresent the given image with related text information: "
    put_rows(tmp_path, task, [
        image_row(qry_inst="Find a news image that matches the provided caption:", qry_text="q zero",
                  tgt_inst=inst, tgt_text=["cap one", "cap two", "cap one bis"],
                  tgt_img_path=[f"{task}/p1.jpg", f"{task}/p2.jpg", f"{task}/p1.jpg"]),
        image_row(qry_inst="Find a news image that matches the provided caption:", qry_text="q one",
                  tgt_inst=inst, tgt_text=["cap three", "cap two changed"],
                  tgt_img_path=[f"{task}/p3.jpg", f"{task}/p2.jpg"]),
    ])
    data = load(task, tmp_path)
    assert [c.id for c in data.candidates] == [f"{task}/p1.jpg", f"{task}/p2.jpg", f"{task}/p3.jpg"]
    # image_t2i_eval.py:26-33: non-blank first caption: "<|image_pad|> " + inst + " " + caption, fixed, + "\n".
    assert data.candidates[0].text == ("<|image_pad|>\nRepresent the given image with related text information:  "
                                       "cap one\n")
    assert data.candidates[1].text.endswith(":  cap two\n")  # the first caption seen for p2 wins
    # The third entry of q0 is the positive again: relevant, listed once (a set in the official scorer).
    assert [p.tolist() for p in data.pools or []] == [[0, 1], [2, 1]]
    assert data.qrels == {"q0": {f"{task}/p1.jpg": 1.0}, "q1": {f"{task}/p3.jpg": 1.0}}
    assert data.notes == {"candidates_merged_by_name": 2, "queries_with_merged_candidates": 2,
                          "queries_with_repeated_positive": 1}


def test_image_to_image_candidates_have_no_trailing_newline_when_captions_are_blank(tmp_path):
    """image_i2i_vg_dataset.py:17-20 (query like QA) and :35-39 (blank captions: no "\\n"), :45 (path:caption)."""
    picture(tmp_path / "image-tasks/CIRR/q.jpg")
    for p in ("a.jpg", "b.jpg"):
        picture(tmp_path / "image-tasks/CIRR" / p)
    put_rows(tmp_path, "CIRR", [image_row(
        qry_inst="<|image_1|>\nGiven an image, find a similar everyday image with the described changes: ",
        qry_text="make it red", qry_img_path="CIRR/q.jpg", tgt_inst="<|image_1|>\nRepresent the given image.",
        tgt_text=["", ""], tgt_img_path=["CIRR/a.jpg", "CIRR/b.jpg"])])
    data = load("CIRR", tmp_path)
    assert data.queries[0].text == ("<|image_pad|>\nGiven an image, find a similar everyday image with the "
                                    "described changes: make it red\n")
    assert [(c.id, c.text) for c in data.candidates] == [("CIRR/a.jpg:", "<|image_pad|>\nRepresent the given image."),
                                                         ("CIRR/b.jpg:", "<|image_pad|>\nRepresent the given image.")]


def test_refcoco_matching_candidates_are_path_and_unquoted_caption(tmp_path):
    """image_i2i_vg_dataset.py:27-34 and :45: two objects of one image are two candidates."""
    picture(tmp_path / "image-tasks/RefCOCO-Matching/q.jpg")
    picture(tmp_path / "image-tasks/RefCOCO-Matching/c.jpg")
    put_rows(tmp_path, "RefCOCO-Matching", [image_row(
        qry_inst="<|image_1|>\nSelect the portion of the image that follows the language expressions.",
        qry_text='"the red ball"', qry_img_path="RefCOCO-Matching/q.jpg",
        tgt_inst="<|image_1|>\nSelect the portion of the image that follows the language expressions.",
        tgt_text=['"the red ball"', '"the blue cup"'],
        tgt_img_path=["RefCOCO-Matching/c.jpg", "RefCOCO-Matching/c.jpg"])])
    data = load("RefCOCO-Matching", tmp_path)
    assert [c.id for c in data.candidates] == ["RefCOCO-Matching/c.jpg:the red ball",
                                               "RefCOCO-Matching/c.jpg:the blue cup"]
    assert data.candidates[1].text == ('<|image_pad|>\nSelect the portion of the image that follows the language '
                                       'expressions. "the blue cup"\n')


# ---------------------------------------------------------------- video tasks (items 4, 5, 8, 10)

def test_breakfast_keeps_the_instruction_trailing_space(tmp_path):
    """Item 4. video_classification_utils.py:21 ends in a space; video_classification_datasets.py:27 keeps it."""
    frames(tmp_path / spec("Breakfast").source.media_dir / "P03_cereals", 3)
    put_rows(tmp_path, "Breakfast", [{"video_id": "P03_cereals", "pos_text": "cereal"}])
    data = load("Breakfast", tmp_path)
    text = "<|video_pad|> Recognize the breakfast type that the person is cooking in the video. "
    assert data.queries[0].text == text
    assert data.candidates[0].text == "cereal" and len(data.candidates) == 10  # rows' labels, then the fixed list


def test_video_ids_are_used_raw(tmp_path):
    """Item 8. Catches: PurePosixPath(id).stem, which reads folder "video7020" for the id "video7020.v2".

    msrvtt_dataset.py:28 and :39 use video_id as the frame folder and the candidate name.
    """
    media = tmp_path / spec("MSR-VTT").source.media_dir
    frames(media / "video7020.v2", 4)
    frames(media / "video7020", 2)  # the folder the stem would wrongly read
    put_rows(tmp_path, "MSR-VTT", [{"video_id": "video7020.v2", "video": "all/video7020.v2.mp4", "caption": "a dog"}])
    data = load("MSR-VTT", tmp_path)
    assert data.queries[0].text == "Find a video that contains the following visual content: a dog"  # :24
    (c,) = data.candidates
    assert c.id == "video7020.v2" and len(c.video) == 4 and c.text == (
        "<|video_pad|> Understand the content of the provided video.")  # :32
    assert data.qrels == {"q0": {"video7020.v2": 1.0}}


def test_momentseeker_uses_all_frames_and_only_jpg_inputs_as_images(tmp_path):
    """Item 5. momentseeker_dataset.py:29-56 (query kinds), :62-89 (clips) with load_frames (no sampling).

    Catches: 8-frame sampling of the query video or clips, and a .png input read as an image.
    """
    media = tmp_path / spec("MomentSeeker").source.media_dir
    frames(media / "video_frames/src_q0", 12)
    for c in ("clips_a", "clips_b"):
        frames(media / "video_frames" / c, 10)
    picture(media / "query_q1.jpg")
    clips = {"positive_frames": [{"output_path": "clips/a.mp4"}], "negative_frames": [{"output_path": "clips/b.mp4"}]}
    put_rows(tmp_path, "MomentSeeker", [
        {"query": "a man jumps", "input_frames": "src/q0.mp4", **clips},
        {"query": "a red car", "input_frames": "q1.jpg", **clips},
        {"query": "a blue car", "input_frames": "q2.png", **clips},
        {"query": "a cat", "input_frames": "", **clips},
    ])
    data = load("MomentSeeker", tmp_path)
    q = data.queries
    assert len(q[0].video) == 12 and q[0].video[-1].endswith("frame_12.jpg")
    assert q[0].text == ("<|video_pad|> Find the clip that corresponds to the given sentence and video segment: "
                         "a man jumps")
    assert q[1].text == "<|image_pad|> Select the video clip that aligns with the given text and image: a red car"
    assert q[1].image == str(media / "query_q1.jpg")
    assert q[2].text == "Find the clip that corresponds to the given text: a blue car" and q[2].image is None
    assert q[3].text == "Find the clip that corresponds to the given text: a cat"
    assert [len(c.video) for c in data.candidates] == [10, 10]
    assert data.candidates[0].text == "<|video_pad|> Understand the content of the provided video clip."
    assert data.notes == {"inputs_read_as_text": 1}


def test_ssv2_ranks_only_its_listed_candidates(tmp_path):
    """Item 10. ssv2_dataset.py:35-39: cand_names = neg_text as given; a positive not listed cannot be ranked."""
    media = tmp_path / spec("SmthSmthV2").source.media_dir
    frames(media / "101", 2)
    frames(media / "102", 2)
    put_rows(tmp_path, "SmthSmthV2", [
        {"video_id": "101", "pos_text": "Opening something", "neg_text": ["Closing something", "Opening something"]},
        {"video_id": "102", "pos_text": "Tearing something", "neg_text": ["Closing something", "Folding something"]},
    ])
    data = load("SmthSmthV2", tmp_path)
    assert [c.id for c in data.candidates] == ["Closing something", "Opening something", "Folding something"]
    assert [p.tolist() for p in data.pools or []] == [[0, 1], [0, 2]]
    assert data.qrels["q1"] == {"Tearing something": 1.0} and data.notes == {"positive_not_in_pool": 1}


def test_video_qa_texts_and_option_names(tmp_path):
    """Item 10. videomme_dataset.py:32,63,69-71; egoschema_dataset.py:32,64,70-72; nextqa_dataset.py:33-34,65,71;
    mvbench_dataset.py:116-117 with vision_utils.py:34-46 (qa_template); activitynetqa_dataset.py:36,67,75."""
    root = tmp_path
    for name, vid in (("Video-MME", "v1"), ("EgoSchema", "e1"), ("NExTQA", "n1"), ("ActivityNetQA", "v_a1")):
        frames(root / spec(name).source.media_dir / vid, 2)
    put_rows(root, "Video-MME", [{"question": "What colour?", "videoID": "v1", "options": ["A. red.", "B. green"],
                                  "answer": "B", "question_id": "1"}])
    put_rows(root, "EgoSchema", [{"question": "What did c do?", "video_idx": "e1", "option": ["A. ran", "cooked"],
                                  "answer": "0", "question_idx": "1"}], subset="Subset")
    put_rows(root, "NExTQA", [{"question": "why?", "video": "n1", "answer": 1, "qid": 1, "type": "CW",
                               **{f"a{j}": f"opt{j}" for j in range(5)}}], subset="MC")
    put_rows(root, "ActivityNetQA", [{"question": "is it day", "video_name": "a1", "answer": "no",
                                      "question_id": "1"}])

    vm = load("Video-MME", root)
    assert vm.queries[0].text == f"<|video_pad|> {PROMPT} What colour?\nA. red.\nB. green"
    assert [(c.id, c.text) for c in vm.candidates] == [("A. red.", "red"), ("B. green", "green")]
    assert vm.qrels == {"q0": {"B. green": 1.0}} and vm.notes["queries_with_unlettered_options"] == 0

    eg = load("EgoSchema", root)
    assert eg.queries[0].text == f"<|video_pad|> {PROMPT} What did c do?A. ran cooked"
    # "cooked" has no ". ": the official o[o.find('. '):] keeps only "d"; umeval keeps the option (counted).
    assert [(c.id, c.text) for c in eg.candidates] == [("A. ran", "ran"), ("cooked", "cooked")]
    assert eg.notes["queries_with_unlettered_options"] == 1

    nx = load("NExTQA", root)
    assert nx.queries[0].text == (f"<|video_pad|> {PROMPT} why?\nOptions:\n(A) opt0\n(B) opt1\n(C) opt2\n(D) opt3\n"
                                  "(E) opt4")
    assert [c.text for c in nx.candidates] == [f"opt{j}" for j in range(5)] and nx.qrels == {"q0": {"opt1": 1.0}}

    an = load("ActivityNetQA", root)
    assert an.queries[0].text == f"<|video_pad|> {PROMPT} is it day? (A) yes; (B) no."
    assert an.qrels == {"q0": {"no": 1.0}}


def test_mvbench_answer_matching_is_exact(tmp_path):
    """Item 10. qa_template (vision_utils.py:34-46) matches the answer by equality; no match gives "(@) answer"."""
    spec_ = spec("MVBench")
    subsets = spec_.options["subsets"]
    for k, sub in enumerate(subsets):
        frames(tmp_path / spec_.source.media_dir / sub / "x.mp4", 2)
        answer = "a dog" if k == 0 else "A cat"  # the second subset's answer differs in case from its option
        put_rows(tmp_path, "MVBench", [{"question": "What is it?", "video": "x.mp4", "candidates": ["a cat", "a dog"],
                                        "answer": answer}], subset=sub)
    data = load("MVBench", tmp_path)
    assert data.queries[0].text == f"<|video_pad|> {PROMPT} What is it?\nOptions:\n(A) a cat\n(B) a dog"
    assert [c.id for c in data.candidates] == ["(A) a cat", "(B) a dog"]
    assert data.qrels["q0"] == {"(B) a dog": 1.0} and data.qrels["q1"] == {"(@) A cat": 1.0}
    assert data.notes["answer_not_in_candidates"] == len(subsets) - 1
    assert data.notes["positive_not_in_pool"] == len(subsets) - 1


# ---------------------------------------------------------------- visdoc tasks (items 7, 9, 10, 12)

def png(seed: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def put_beir(root: Path, name: str, corpus: dict[str, bytes], qrels: list[tuple[str, str, int]],
             queries: list[tuple[str, str]]) -> None:
    put_rows(root, name, [{"corpus-id": c, "image": {"bytes": b, "path": None}} for c, b in corpus.items()],
             subset="corpus", image_columns=("image",))
    put_rows(root, name, [{"query-id": q, "corpus-id": c, "score": s} for q, c, s in qrels], subset="qrels")
    put_rows(root, name, [{"query-id": q, "query": t} for q, t in queries], subset="queries")


def test_visrag_pages_are_resaved_under_their_corpus_id_extension(tmp_path):
    """Item 9. visrag_dataset.py:63-71 saves the decoded page as <id's base><id's extension>, so a .jpg id is a
    JPEG at PIL's default quality.  Catches: the original PNG bytes encoded as they are."""
    pages = {"p1.jpg": png(1), "p2.png": png(2), "p3.jpeg": png(3, "RGBA")}
    put_beir(tmp_path, "VisRAG_ChartQA", pages, [("q1", "p2.png", 1)], [("q1", "chart?")])
    data = load("VisRAG_ChartQA", tmp_path)
    by_id = {c.id: c.image for c in data.candidates}
    expected = io.BytesIO()
    Image.open(io.BytesIO(pages["p1.jpg"])).save(expected, format="JPEG")  # quality 75, PIL's default
    assert by_id["p1.jpg"] == expected.getvalue() and by_id["p1.jpg"] != pages["p1.jpg"]
    assert Image.open(io.BytesIO(by_id["p2.png"])).format == "PNG"
    assert Image.open(io.BytesIO(by_id["p3.jpeg"])).format == "JPEG"  # RGBA cannot be JPEG: made RGB (counted)
    assert data.notes["pages_converted_to_rgb"] == 1
    # visrag_dataset.py:23 and :36/:72 (process_input_text): the official instructions, candidates in official order.
    assert data.queries[0].text == "Find a document image that matches the given query: chart?"
    assert [c.id for c in data.candidates] == ["p2.png", "p1.jpg", "p3.jpeg"]
    assert data.candidates[0].text == "<|image_pad|> Understand the content of the provided document image."


def test_vidore_pages_keep_their_bytes_and_queries_without_qrels_are_counted(tmp_path):
    """vidore_dataset.py:60-63 saves pages as .png (lossless: same pixels); a query without qrels is a KeyError
    there (:28), dropped and counted here."""
    pages = {"d0": png(0), "d1": png(1)}
    put_beir(tmp_path, "ViDoRe_docvqa", pages, [("q1", "d1", 1)], [("q0", "lost"), ("q1", "kept")])
    data = load("ViDoRe_docvqa", tmp_path)
    assert {c.id: c.image for c in data.candidates} == pages
    assert [q.id for q in data.queries] == ["q1"] and data.notes["queries_without_qrels"] == 1


@pytest.mark.parametrize(("task", "ume_r1_empty"), [("ViDoSeek-doc", True), ("MMLongBench-page", True),
                                                    ("ViDoRe_tatdqa", True), ("VisRAG_InfoVQA", False)])
def test_ume_r1_instruction_set_is_empty_for_every_vidore_parser_task(task, ume_r1_empty, tmp_path):
    """Item 12. Kikcer/lume@08891de src/eval/VLM2Vec/src/data/eval_dataset/vidore_dataset.py:12-13 set both
    instructions to "" for all tasks its visdoc.yaml reads with the vidore parser (ViDoSeek/MMLongBench included);
    visrag_dataset.py there keeps them."""
    put_beir(tmp_path, task, {"d0.png": png(0)}, [("q1", "d0.png", 1)], [("q1", "where?")])
    data = load(task, tmp_path, instruction_set="ume-r1")
    if ume_r1_empty:  # process_input_text("", text=q) = " " + q; the page is "<|image_pad|> " + ""
        assert (data.queries[0].text, data.candidates[0].text) == (" where?", "<|image_pad|> ")
    else:
        assert data.queries[0].text == "Find a document image that matches the given query: where?"


@pytest.mark.parametrize(("name", "hub"), [("ViDoSeek-page", "VLM2Vec/ViDoSeek-page-fixed"),
                                           ("MMLongBench-page", "VLM2Vec/MMLongBench-page-fixed")])
def test_page_tasks_read_the_fixed_data_and_answer_to_their_export_name(name, hub):
    """Item 7. dataset_hf_path.py:53,55 (fixed hub ids); report_score_v2.py:142 exports them as "<name>-fixed".

    Catches: the unfixed hub repos, a missing alias, or a row without the data version.
    """
    (s,) = resolve_tasks(f"{name}-fixed")
    assert s.name == name and s.source.hub_id == hub and s.export_name == f"{name}-fixed"
    assert resolve_tasks(name) == [s]
    summary = s.summary()
    assert summary["data_version"] == f"{hub}@main" and summary["export_name"] == f"{name}-fixed"
    assert resolve_tasks("ViDoSeek-doc")[0].export_name is None


def test_official_pool_lists_a_relevant_name_once_and_keeps_repeated_negatives():
    """Catches: recall/precision counting a positive listed twice, or dropping a repeated negative (which takes
    two places in the official ranking and so moves the positive down for hit@k)."""
    from umeval.loaders import official_pool

    assert official_pool([0, 1, 1, 0, 2, 0], {0}).tolist() == [0, 1, 1, 2]
