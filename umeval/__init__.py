"""umeval: discriminative and generative evaluation of multimodal embedding models on MMEB-V2."""

__version__ = "0.1.0"
