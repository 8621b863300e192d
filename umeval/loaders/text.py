"""The official MMEB-V2 input text, as the VLM2Vec parsers write it for the Qwen2-VL backbone.

Loaders put the whole string into ``Item.text`` (placeholders, spaces and newlines included) and leave
``Item.instruction`` empty; each model's prompt format then rewrites that text its own way.  The rules
below restate ``process_input_text`` (``src/model/processor.py``) and the video-QA ``process_query`` /
``qa_template`` helpers of TIGER-AI-Lab/VLM2Vec (read at commit 6e1e1d4) in our own words.
"""

from __future__ import annotations

from collections.abc import Sequence

from umeval.core.types import IMAGE_TOKEN as IMAGE_TOKEN  # the placeholders the official parsers write
from umeval.core.types import VIDEO_TOKEN as VIDEO_TOKEN

ROW_IMAGE_TOKEN = "<|image_1|>"  # the placeholder inside MMEB_Test_Instruct's qry_inst / tgt_inst


def compose(instruction: str, text: str | None = None, *, image: bool = False, video: bool = False) -> str:
    """Instruction, then ``" " + text`` when the text is non-empty, then the placeholder(s) in front.

    Nothing is stripped: an instruction ending in a space keeps it (Breakfast), an empty instruction
    leaves the separating space (``" " + text``), and a placeholder is followed by one space.
    """
    out = instruction
    if text:
        out = f"{out} {text}"
    if video:
        out = f"{VIDEO_TOKEN} {out}"
    if image:
        out = f"{IMAGE_TOKEN} {out}"
    return out


def no_text_at(text: str | None, composed: str) -> int | None:
    """Where the parser's composed part ends when it got no text (``Item.no_text_at``), else None.

    ``process_input_text`` writes ``instruction + " "`` for the GME and LamRA backbones when the text is empty or
    missing, where the Qwen2-VL branch (the text in ``Item.text``) writes the placeholder and the instruction
    alone; ``composed`` is that Qwen2-VL string after the parser's own edits, before what it appends.
    """
    return None if text else len(composed)


def qa_query(question: str, prompt: str) -> str:
    """The video-QA query: placeholder, prompt, question (the prompt ends in a space, giving two)."""
    return f"{VIDEO_TOKEN} {prompt} {question}" if prompt else f"{question} {VIDEO_TOKEN}"


def letter(i: int) -> str:
    """``A``, ``B``, ...; index -1 (an answer matching no option) gives ``@``, as the official code does."""
    return chr(ord("A") + i)


def list_options(query: str, options: Sequence[str]) -> str:
    r"""``query`` + ``"\nOptions:\n(A) ...\n(B) ..."``, trailing whitespace of the whole string removed."""
    body = "".join(f"({letter(i)}) {o}\n" for i, o in enumerate(options))
    return f"{query}\nOptions:\n{body}".rstrip()
