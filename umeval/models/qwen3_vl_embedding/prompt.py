r"""Qwen3-VL-Embedding's input as its authors' MMEB-V2 evaluation writes it (QwenLM/Qwen3-VL-Embedding 8ce3aab).

Facts (paths in that repository):

* **Messages** (src/models/qwen3_vl_embedding.py ``format_model_input``): a system turn holding the item's
  instruction, or ``"Represent the user's input."`` when it has none; an instruction is stripped and gets a
  ``"."`` when its last character is not punctuation (Unicode category P*).  Then one user turn: each video,
  then each image, then the text; an item with none of them gets the text ``"NULL"``.  The checkpoint's chat
  template writes ``<|im_start|>system\n{instruction}<|im_end|>\n<|im_start|>user\n`` + vision blocks
  (``<|vision_start|><|image_pad|><|vision_end|>``, ``..<|video_pad|>..``) + text + ``<|im_end|>\n`` +
  ``<|im_start|>assistant\n`` (``add_generation_prompt=True``); written literally here, as vLLM's own example
  for this checkpoint does.  A video is written as its bare ``<|video_pad|>``: the processor expands it into
  ``<t seconds><|vision_start|>..<|vision_end|>`` per pair of frames.  The authors' transformers (>= 4.57.3,
  pyproject.toml:20; its Qwen3VLProcessor at huggingface/transformers e1b5516 replaces the template's whole
  ``<|vision_start|><|video_pad|><|vision_end|>`` block) gives exactly that; transformers 5.x replaces only the
  bare token, so the wrapped block would keep two extra tokens around the frames.
* **Instructions** (src/evaluation/mmeb_v2/data/datasets/*.py): queries only; every candidate's instruction is
  commented out, so candidates get the default.  Image tasks: the row's ``qry_inst`` without ``<|image_1|>``,
  stripped; its ``qry_text`` as the text.  Video and visual-document tasks: a constant per parser
  (:data:`QUERY_INSTRUCTIONS`), the row's caption / question / query as the text.  Candidates: their media and
  their own text only (an image candidate's caption stripped; a class label or answer option as it is).
* **Images**: ``fetch_image`` of qwen-vl-utils >= 0.0.14 with ``image_patch_size=16``: RGBA pasted on white,
  else ``convert("RGB")``; ``smart_resize`` to multiples of 32 within 4*32*32..1800*32*32 pixels (the
  embedder's MIN_PIXELS/MAX_PIXELS); PIL ``resize``.  The processor is then called with ``do_resize=False``.
* **Videos** (frame lists): at most 64 frames (``sample_frames``: ``np.linspace(0, n-1, 64, dtype=int)``);
  qwen-vl-utils 0.0.14 ``fetch_video`` then fetches each frame with ``fetch_image(..., image_factor)``, i.e.
  ``image_patch_size=32``: sides rounded to multiples of **64** within its defaults 4*64*64..16384*64*64 (the
  library passes its 32-pixel factor where a patch size is expected; followed as the authors ran it), pads the
  count to even by repeating the last frame, then resizes the stack (torchvision, bicubic, antialias, float) to
  multiples of 32 within 128*32*32 and ``max(min(768*32*32, total_pixels / n * 2), 1.05 * 128*32*32)``, with
  ``total_pixels = 10 * 768*32*32``.  Metadata: fps 2.0, frame indices 0..n-1 (the library's stand-in for
  frame lists), which the processor turns into per-frame-pair timestamps.
* **Pooling**: the last non-padding token (the ``\n`` after ``assistant``), L2-normalised (``_pooling_last``,
  ``F.normalize``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
from PIL import Image

from umeval.core.types import Item
from umeval.encoders.prompt_base import Prompt

DEFAULT_INSTRUCTION = "Represent the user's input."
FACTOR = 32  # 16-pixel patches merged 2 x 2
IMAGE_MIN_PIXELS, IMAGE_MAX_PIXELS = 4 * FACTOR * FACTOR, 1800 * FACTOR * FACTOR
MAX_FRAMES = 64
FRAME_FACTOR_FIRST = 64  # fetch_video's per-frame fetch_image with the 32-pixel factor as patch size
FRAME_FIRST_MIN, FRAME_FIRST_MAX = 4 * 64 * 64, 16384 * 64 * 64
VIDEO_MIN_PIXELS, VIDEO_FRAME_MAX_PIXELS = 128 * FACTOR * FACTOR, 768 * FACTOR * FACTOR
VIDEO_TOTAL_PIXELS = 10 * VIDEO_FRAME_MAX_PIXELS
SAMPLE_FPS = 2.0

_QA = ("Given a video and a question, select the most accurate answer from the provided candidates. "
       "Return only the exact text of your chosen answer.")
_DOC = "Find a document image that matches the given query."
_MOMENT = "Find the clip that corresponds to the described scene in the given video."
#: The query instruction of each video and visual-document task, by umeval task name (the authors' parsers:
#: video_classification_utils.py DATASET_INSTRUCTION, msrvtt/msvd/didemo/youcook2/vatex/moment_retrieval/
#: activitynetqa/egoschema/mvbench/nextqa/videomme/vidore/visrag ``TASK_INST*``).  Image tasks use the row's own.
QUERY_INSTRUCTIONS: dict[str, str] = {
    "K700": "Recognize the category of the video content.",
    "SmthSmthV2": "What actions or object interactions are being performed by the person in the video?",
    "UCF101": "What activities or sports are being performed by the person in the video?",
    "HMDB51": "What actions or objects interactions are the person in the video doing?",
    "Breakfast": "Recognize the breakfast type that the person is cooking in the video. ",
    "MSR-VTT": "Find a video that contains the following visual content.",
    "MSVD": "Find the video snippet that corresponds to the given summary.",
    "DiDeMo": "Find a video that includes the following described scenes.",
    "YouCook2": "Find a video that demonstrates the following action while making a recipe.",
    "VATEX": "Select a video that fits the description provided.",
    "QVHighlight": _MOMENT,
    "Charades-STA": _MOMENT,
    **{t: _QA for t in ("ActivityNetQA", "EgoSchema", "MVBench", "NExTQA", "Video-MME")},
}
#: MomentSeeker's three query kinds (momentseeker_dataset.py:10-12): by the query's own medium.
MOMENTSEEKER = {"video": "Find the clip that corresponds to the given sentence and video segment.",
                "image": "Select the video clip that aligns with the given text and image.",
                "text": "Find the clip that corresponds to the given text."}
#: Visual-document tasks: one instruction for every ViDoRe / VisRAG / ViDoSeek / MMLongBench parser.
VISDOC_LOADER = "beir"


def punctuated(instruction: str) -> str:
    """``format_model_input``: stripped, and a ``"."`` added unless the last character is punctuation."""
    s = instruction.strip()
    if s and not unicodedata.category(s[-1]).startswith("P"):
        s += "."
    return s


def _loader_of(task: str | None) -> str | None:
    from umeval.models.vlm2vec.prompt import _loader_of as loader

    return loader(task) if task else None


def query_instruction(item: Item, task: str | None) -> str:
    """The system instruction of a query: the task's (video, visdoc), else the row's (image tasks)."""
    if task == "MomentSeeker":
        return MOMENTSEEKER["video" if item.video else "image" if item.image is not None else "text"]
    if task in QUERY_INSTRUCTIONS:
        return QUERY_INSTRUCTIONS[task]
    if _loader_of(task) == VISDOC_LOADER:
        return _DOC
    return item.parts[0] if item.parts is not None else item.instruction


def _text(item: Item) -> str | None:
    """The user text: the parser's (an empty string stays a text, as in the authors' rows), else the item's own.

    A hand-built item with no text has none.
    """
    return item.parts[1] if item.parts is not None else (item.text or None)


def to_rgb(im: Image.Image) -> Image.Image:
    """qwen-vl-utils ``to_rgb``: RGBA pasted on white by its alpha, anything else converted."""
    if im.mode == "RGBA":
        out = Image.new("RGB", im.size, (255, 255, 255))
        out.paste(im, mask=im.split()[3])
        return out
    return im.convert("RGB")


def _resized(im: Image.Image, factor: int, lo: int, hi: float) -> Image.Image:
    from qwen_vl_utils import smart_resize

    h, w = smart_resize(im.height, im.width, factor=factor, min_pixels=lo, max_pixels=int(hi))
    return im.resize((w, h))


def fetch_image(im: Image.Image) -> Image.Image:
    return _resized(to_rgb(im), FACTOR, IMAGE_MIN_PIXELS, IMAGE_MAX_PIXELS)


def video_frame_cap(n_frames: int) -> int:
    """The pixel bound of each frame of a stack of ``n_frames`` (even) frames: the total budget shared per pair."""
    return int(max(min(VIDEO_FRAME_MAX_PIXELS, VIDEO_TOTAL_PIXELS / n_frames * 2), int(VIDEO_MIN_PIXELS * 1.05)))


def fetch_video(frames: list[Image.Image]) -> tuple[Any, dict[str, Any]]:
    """The frames as the authors' pipeline hands them to the processor: a (n, 3, H, W) float tensor, metadata."""
    import torch
    from qwen_vl_utils import smart_resize
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    if len(frames) > MAX_FRAMES:
        frames = [frames[i] for i in np.linspace(0, len(frames) - 1, MAX_FRAMES, dtype=int).tolist()]
    images = [_resized(to_rgb(f), FRAME_FACTOR_FIRST, FRAME_FIRST_MIN, FRAME_FIRST_MAX) for f in frames]
    if len(images) % 2:
        images.append(images[-1])
    video = torch.stack([torch.from_numpy(np.array(im).transpose(2, 0, 1)) for im in images])
    n, _, height, width = video.shape
    h, w = smart_resize(height, width, factor=FACTOR, min_pixels=VIDEO_MIN_PIXELS, max_pixels=video_frame_cap(n))
    video = tvf.resize(video, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True).float()
    return video, {"fps": SAMPLE_FPS, "frames_indices": list(range(n)), "total_num_frames": n}


def _prompt(instruction: str, text: str | None, images: list[Image.Image],
            videos: list[list[Image.Image]]) -> Prompt:
    clips = [fetch_video(list(v)) for v in videos]
    rgb = [fetch_image(im) for im in images]
    # A video is its bare placeholder: the processor writes each pair of frames as "<t seconds>" + a vision block
    # of its own.  transformers 4.57 (the authors') replaced the chat template's whole vision block with those;
    # 5.x replaces only the bare token, so a wrapped one would keep an outer <|vision_start|>..<|vision_end|>.
    user = "<|video_pad|>" * len(clips) + \
        "<|vision_start|><|image_pad|><|vision_end|>" * len(rgb)
    if text is not None:
        user += text
    elif not clips and not rgb:
        user += "NULL"
    body = (f"<|im_start|>system\n{punctuated(instruction) or DEFAULT_INSTRUCTION}<|im_end|>\n"
            f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
    return Prompt(text=body, images=rgb, videos=[c for c, _ in clips], pool_token=None, resized=True,
                  video_metadata=[m for _, m in clips] or None)


def query(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any,
          task: str | None = None) -> Prompt:
    """A query: the task's instruction in the system turn, its media, its own text."""
    return _prompt(query_instruction(item, task), _text(item), images, videos)


def candidate(item: Item, images: list[Image.Image], videos: list[list[Image.Image]], processor: Any,
              task: str | None = None) -> Prompt:
    """A candidate: the default instruction, its media, its own text (an image's caption stripped; none if empty)."""
    text: str | None = _text(item)
    if images or videos:
        text = (text or "").strip() or None
    return _prompt(item.instruction if item.parts is None else "", text, images, videos)


query.wants_task = True  # type: ignore[attr-defined]
candidate.wants_task = True  # type: ignore[attr-defined]
