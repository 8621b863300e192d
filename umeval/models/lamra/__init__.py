"""LamRA-Ret as the official MMEB-V2 evaluation runs it.

code-kunkun/LamRA-Ret (Qwen2-VL) and code-kunkun/LamRA-Ret-Qwen2.5VL-7b (Qwen2.5-VL).
"""

from umeval.models.lamra.encoder import LamRAEncoder
from umeval.models.lamra.prompt import lamra

__all__ = ["LamRAEncoder", "lamra"]
