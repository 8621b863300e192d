"""A vLLM (V1) logits processor that forces a request's tokens, for tests: ``SamplingParams(extra_args=
{"force": [id, ...]})`` makes the request's k-th generated token ``force[k]`` (free decoding after the script).

Registered on the generation engine by the ``vllm_encoder`` fixture; it lives in its own module so that the
engine process (spawned) imports it by name.
"""

from __future__ import annotations

import torch
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates


class ForceScript(LogitsProcessor):
    def __init__(self, vllm_config, device, is_pin_memory):  # type: ignore[no-untyped-def]
        self.scripts: dict[int, tuple[list[int], list[int]]] = {}  # batch row -> (script, output ids so far)

    def is_argmax_invariant(self) -> bool:
        return False

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        def new(params, _prompt_ids, output_ids):  # type: ignore[no-untyped-def]
            script = (params.extra_args or {}).get("force")
            return (list(script), output_ids) if script else None

        process_dict_updates(self.scripts, batch_update, new)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        for row, (script, out) in self.scripts.items():
            k = len(out)
            if k < len(script):
                logits[row] = float("-inf")
                logits[row, script[k]] = 0.0
        return logits
