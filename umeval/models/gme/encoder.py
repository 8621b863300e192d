"""The GME encoder: the HF Qwen2-VL encoder with GME's prompt format.

Reused as is: loading, batching, call-time pixel bounds, last-token pooling, L2 normalisation.  Right padding
with the read at ``length - 1`` picks the same token as GME's left padding with the read at ``-1``.
"""

from __future__ import annotations

from typing import Any

from umeval.encoders.qwen2vl import Qwen2VLEncoder
from umeval.models.gme.prompt import gme


class GmeEncoder(Qwen2VLEncoder):
    FORMAT = staticmethod(gme)
    FORMAT_NAME = "gme"

    def __init__(self, model_cfg: Any, **kw: Any) -> None:
        super().__init__(model_cfg, **kw)
        self.prompt_format = type(self).FORMAT

    def info(self) -> dict[str, Any]:
        return {**super().info(), "prompt": self.FORMAT_NAME}
