"""A latency model of one GPU running a vision-language model under vLLM: for ``umeval estimate`` and the simulator.

Two regimes, the usual roofline reading of transformer inference:

* **prefill** (a prompt, vision encoder included) is compute-bound: ``2 x parameters`` FLOPs per LLM token and
  ``2 x vision parameters x 4`` per visual token (the ViT sees the 2 x 2 patches that merge into one token),
  at a fraction ``mfu`` of the GPU's dense bf16 peak;
* **decode** is memory-bound: every step reads the weights once plus each running sequence's KV cache, at a
  fraction ``bw_eff`` of the memory bandwidth; no faster than the compute floor; plus a fixed per-step
  overhead (scheduling, sampling, kernel launches).

The GPU's compute is saturated in a decode step once the batch passes the roofline knee, ``peak FLOPs /
bandwidth`` tokens per step (about 300 on an H100): the simulator's *busy* share counts decode steps by
``min(1, batch / knee)`` (a step of 8 sequences keeps the GPU about 3 % busy).

Every constant names its source; the efficiencies are assumptions, given as a (low, mid, high) range that
``umeval estimate`` turns into an hours range.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    name: str
    bf16_tflops: float  # dense (no sparsity)
    hbm_tb_s: float
    memory_gib: float
    source: str


GPUS = {
    "h100": Gpu("NVIDIA H100 SXM5 80GB", 989.0, 3.35, 80, "NVIDIA H100 Tensor Core GPU datasheet (SXM5: BF16 "
                "1,979 TFLOPS with sparsity, i.e. 989 dense; HBM3 3.35 TB/s)"),
    "h200": Gpu("NVIDIA H200 SXM 141GB", 989.0, 4.8, 141, "NVIDIA H200 Tensor Core GPU datasheet (BF16 1,979 "
                "TFLOPS with sparsity; HBM3e 4.8 TB/s)"),
    "a100": Gpu("NVIDIA A100 SXM 80GB", 312.0, 2.039, 80, "NVIDIA A100 Tensor Core GPU datasheet (BF16 312 "
                "TFLOPS dense; HBM2e 2,039 GB/s)"),
    "l40s": Gpu("NVIDIA L40S 48GB", 362.05, 0.864, 48, "NVIDIA L40S datasheet (BF16 362 TFLOPS dense, 733 with "
                "sparsity; GDDR6 864 GB/s)"),
}


@dataclass(frozen=True)
class Backbone:
    """Sizes of a checkpoint's backbone: what the latency model needs."""

    llm_params: float
    vision_params: float
    kv_bytes_per_token: int  # layers x 2 (K and V) x KV heads x head dim x 2 bytes (bf16)
    source: str

    @property
    def weight_bytes(self) -> float:
        return 2.0 * (self.llm_params + self.vision_params)


#: Backbones a family's checkpoint names (``Checkpoint.backbone``).
BACKBONES = {
    "qwen2-vl-2b": Backbone(1.54e9, 0.675e9, 28 * 2 * 2 * 128 * 2,
                            "Qwen2-VL paper (arXiv 2409.12191) Table 1: ViT 675M, LLM 1.5B; Qwen2-VL-2B-Instruct "
                            "config.json: 28 layers, 2 KV heads, head dim 128"),
    "qwen2-vl-7b": Backbone(7.6e9, 0.675e9, 28 * 2 * 4 * 128 * 2,
                            "Qwen2-VL paper Table 1: ViT 675M, LLM 7.6B; Qwen2-VL-7B-Instruct config.json: 28 "
                            "layers, 4 KV heads, head dim 128"),
}

#: vLLM's offline defaults on an H100/H200 (vllm 0.32 ``EngineArgs._set_default_max_num_seqs_and_batched_tokens
#: _args``: ``LLM`` class, >= 70 GiB): sequences per step and tokens per step.
MAX_NUM_SEQS, MAX_BATCHED_TOKENS = 1024, 16384

#: Assumed efficiencies, (low, mid, high) in the sense of slow, typical, fast (assumptions, not measurements):
#: prefill reaches roughly 35-60 % of dense peak; decode reads weights and KV at 60-85 % of peak bandwidth; a
#: vLLM V1 step costs 1-3 ms of GPU idle besides the kernels (scheduling, sampling, output processing, partly
#: hidden by CUDA graphs and V1's overlapped scheduling).
MFU = (0.35, 0.5, 0.6)
BW_EFF = (0.6, 0.75, 0.85)
STEP_OVERHEAD_S = (0.003, 0.002, 0.001)


@dataclass(frozen=True)
class LatencyModel:
    gpu: Gpu
    model: Backbone
    mfu: float = MFU[1]
    bw_eff: float = BW_EFF[1]
    step_overhead: float = STEP_OVERHEAD_S[1]

    @classmethod
    def at(cls, gpu: Gpu, model: Backbone, level: int = 1) -> LatencyModel:
        """``level`` 0 slow, 1 typical, 2 fast."""
        return cls(gpu, model, MFU[level], BW_EFF[level], STEP_OVERHEAD_S[level])

    @property
    def flops(self) -> float:
        return self.gpu.bf16_tflops * 1e12 * self.mfu

    @property
    def bandwidth(self) -> float:
        return self.gpu.hbm_tb_s * 1e12 * self.bw_eff

    @property
    def knee(self) -> float:
        """Decode batch at which a step turns compute-bound (the roofline ridge, in tokens per step)."""
        return self.gpu.bf16_tflops / self.gpu.hbm_tb_s

    def prefill_seconds(self, tokens: float, visual: float = 0.0) -> float:
        """Kernel time of prefilling ``tokens`` prompt tokens, ``visual`` of them visual (ViT included)."""
        return (2 * self.model.llm_params * tokens + 2 * self.model.vision_params * 4 * visual) / self.flops

    def decode_seconds(self, batch: int, context_tokens: float) -> float:
        """Kernel time of one decode step of ``batch`` sequences holding ``context_tokens`` KV entries in all."""
        if batch <= 0:
            return 0.0
        memory = (self.model.weight_bytes + context_tokens * self.model.kv_bytes_per_token) / self.bandwidth
        return max(memory, 2 * self.model.llm_params * batch / self.flops)

    def kv_capacity_tokens(self, memory_share: float = 0.9) -> int:
        """KV entries that fit the engine's share of GPU memory after the weights and ~3 GiB of activations."""
        free = self.gpu.memory_gib * 2**30 * memory_share - self.model.weight_bytes - 3 * 2**30
        return max(0, int(free // self.model.kv_bytes_per_token))
