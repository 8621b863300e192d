"""The LamRA-Ret encoder: the HF Qwen2-VL encoder with LamRA's prompt (``model.prompt=lamra``).

It serves the Qwen2.5-VL variant too: ``AutoModelForImageTextToText`` picks the architecture from the checkpoint.
"""

from __future__ import annotations

from umeval.models.gme.encoder import GmeEncoder


class LamRAEncoder(GmeEncoder):
    FORMAT_NAME = "lamra"
