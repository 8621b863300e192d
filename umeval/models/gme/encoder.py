"""The GME encoder: the HF Qwen2-VL encoder with GME's prompt format (``model.prompt=gme``).

Reused as is: loading, batching, call-time pixel bounds, last-token pooling, L2 normalisation.  Right padding
with the read at ``length - 1`` picks the same token as GME's left padding with the read at ``-1``.  The class
exists so the family is explicit in results and stays on the HF path (the runner swaps only the built-in
Qwen2-VL encoder for its vLLM twin); it refuses a preset that names another family's format.
"""

from __future__ import annotations

from typing import Any

from umeval.encoders.qwen2vl import Qwen2VLEncoder
from umeval.errors import ConfigError


class GmeEncoder(Qwen2VLEncoder):
    FORMAT_NAME = "gme"

    def __init__(self, model_cfg: Any, **kw: Any) -> None:
        if model_cfg.prompt != self.FORMAT_NAME:
            raise ConfigError(f"{type(self).__name__} encodes with the '{self.FORMAT_NAME}' prompt format, "
                              f"not '{model_cfg.prompt}'", f"set model.prompt={self.FORMAT_NAME}")
        super().__init__(model_cfg, **kw)
