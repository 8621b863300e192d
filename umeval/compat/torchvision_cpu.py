"""Let a CUDA build of torchvision import beside a CPU-only torch.

vLLM's CPU build pulls a CUDA torchvision whose compiled ops do not load next to ``torch==2.13.0+cpu``;
its import then fails with ``operator torchvision::nms does not exist``.  Only its pure-Python transforms
are needed (Qwen2-VL's processors, vLLM's qwen2_vl module), so before torchvision is first imported we try
to load its compiled library and, if that fails, declare the schemas of the two ops it registers fake
kernels for.  vLLM spawns worker processes, so ``make install`` puts a ``.pth`` line in the virtualenv that
calls :func:`install` in every process.  On a machine with a working torchvision the hook does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import Any

_SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"


def _declare_ops() -> None:
    import torch

    spec = importlib.util.find_spec("torchvision")
    locs = list(spec.submodule_search_locations or []) if spec else []
    for loc in locs:
        for lib in Path(loc).glob("_C*.so"):
            try:
                torch.ops.load_library(str(lib))
                return
            except OSError:
                pass
    for op in ("nms", "qnms"):
        try:
            torch.library.define(f"torchvision::{op}", _SCHEMA)
        except RuntimeError:  # already defined
            pass


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            _declare_ops()
        return None


def install() -> None:
    if "torchvision" not in sys.modules and not any(isinstance(h, _Hook) for h in sys.meta_path):
        sys.meta_path.insert(0, _Hook())
