"""umeval: discriminative and generative evaluation of multimodal embedding models on MMEB-V2.

``umeval.evaluate(model=..., tasks=..., **settings)`` runs an evaluation from Python and returns
:class:`umeval.run.api.Results`; both are imported on first use, so ``import umeval`` stays cheap (no torch).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Results", "__version__", "evaluate"]

#: Public names imported on first access: name -> module.  No import statement names them (not even under
#: TYPE_CHECKING): modules deep in the pipeline import ``umeval`` for ``__version__``, and a static edge from
#: here to the runner would close an import cycle through the package face.
_LAZY = {"evaluate": "umeval.run.api", "Results": "umeval.run.api"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'umeval' has no attribute {name!r}")
