"""GME (Alibaba-NLP/gme-Qwen2-VL-2B/7B-Instruct) as the official MMEB-V2 evaluation runs it."""

from umeval.models.gme.encoder import GmeEncoder
from umeval.models.gme.prompt import baseline_image, baseline_text, gme

__all__ = ["GmeEncoder", "baseline_image", "baseline_text", "gme"]
