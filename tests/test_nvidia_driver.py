"""A GPU that torch cannot use is a one-line error for device=auto, never a silent CPU run (issue 19).

The machine is faked: a ``nvidia-smi`` script on ``PATH`` and ``UMEVAL_NVIDIA_PROC`` pointing at a made-up
``/proc/driver/nvidia/version``; torch on this CPU box really sees no CUDA device.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from umeval.core.errors import ConfigError
from umeval.run import nvidia
from umeval.run.runtime import resolve_device

ROOT = Path(__file__).resolve().parents[1]
PROPRIETARY = ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
               "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n")
OPEN = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.82.07  Release Build  (dvs-builder@U16)\n"


def fake_smi(folder: Path, driver: str = "535.183.01") -> Path:
    """A ``nvidia-smi`` that answers the driver query the way the real one does (one line per GPU)."""
    folder.mkdir(parents=True, exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text(f'#!/bin/sh\ncase "$*" in *driver_version*) printf "{driver}\\n{driver}\\n";; '
                   '*) echo "fake nvidia-smi"; exit 9;; esac\n')
    smi.chmod(0o755)
    return folder


@pytest.fixture
def no_driver(tmp_path, monkeypatch):
    """A machine with no NVIDIA driver at all (no /proc entry, no nvidia-smi on PATH)."""
    monkeypatch.setenv(nvidia.PROC_VERSION_ENV, str(tmp_path / "absent"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return tmp_path


def test_driver_read_from_proc_in_both_module_formats(no_driver):
    # Bug caught: the open kernel module's line ("Open Kernel Module for x86_64  580.82.07") read as no driver
    # or as the wrong number (x86_64, a date), which would let device=auto fall back silently again.
    proc = no_driver / "version"
    os.environ[nvidia.PROC_VERSION_ENV] = str(proc)
    proc.write_text(PROPRIETARY)
    assert nvidia.driver_version() == ("550.54.15", str(proc))
    proc.write_text(OPEN)
    assert nvidia.driver_version() == ("580.82.07", str(proc))


def test_driver_read_from_nvidia_smi_when_proc_is_absent(no_driver):
    # Bug caught: containers that see nvidia-smi but not /proc/driver/nvidia treated as GPU-less.
    os.environ["PATH"] = str(fake_smi(no_driver / "bin"))
    assert nvidia.driver_version() == ("535.183.01", "nvidia-smi")


def test_no_driver_no_gpu(no_driver):
    assert nvidia.driver_version() is None
    assert nvidia.unusable_gpu("2.13.0", "13.0", False) is None  # a CPU machine: auto means cpu, no error


def test_problem_names_driver_runtime_and_fixes(no_driver):
    # Bug caught: a message without the driver, the CUDA runtime or the way out; or an error where torch
    # does see the GPU, or where CUDA_VISIBLE_DEVICES hides the GPUs on purpose.
    os.environ["PATH"] = str(fake_smi(no_driver / "bin", "550.54.15"))
    problem, fix = nvidia.unusable_gpu("2.13.0", "13.0", False)
    assert problem == ("device=auto on a machine with an NVIDIA GPU (driver 550.54.15, from nvidia-smi), but torch "
                       "2.13.0 needs the CUDA 13.0 runtime (driver >= 580.65.06) and driver 550.54.15 is too old, "
                       "so torch sees no GPU")
    assert fix == ("update the NVIDIA driver to >= 580 (CUDA 13), or install the CUDA 12 set (make install-gpu "
                   "CUDA=12), or pass device=cpu to really run on the CPU")
    problem, _ = nvidia.unusable_gpu("2.13.0+cpu", None, False)
    assert problem.endswith("but torch 2.13.0+cpu is a CPU-only build")
    problem, fix = nvidia.unusable_gpu("2.10.0", "12.8", False)
    assert "sees no GPU although the driver should support it" in problem and "CUDA_VISIBLE_DEVICES" in fix
    assert nvidia.unusable_gpu("2.13.0", "13.0", True) is None
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    assert nvidia.unusable_gpu("2.13.0", "13.0", False) is None


def test_resolve_device_refuses_auto_but_honours_cpu(no_driver, monkeypatch):
    # Bug caught: resolve_device turning device=auto into "cpu" on a GPU machine (the silent fallback itself).
    os.environ["PATH"] = str(fake_smi(no_driver / "bin", "550.54.15"))
    import torch

    monkeypatch.setattr(torch.version, "cuda", "13.0")  # a CUDA 13 wheel; torch here really sees no GPU
    with pytest.raises(ConfigError, match=r"driver 550\.54\.15.*CUDA 13\.0.*make install-gpu CUDA=12.*device=cpu"):
        resolve_device("auto", "hf")
    with pytest.raises(ConfigError, match="driver 550.54.15"):
        resolve_device("auto", "vllm")
    assert resolve_device("cpu", "hf") == "cpu"


def run_cli(tmp_path: Path, *pre: str) -> subprocess.CompletedProcess[str]:
    """``umeval run task=mini model=tiny-qwen2vl device=auto`` on the faked machine, in a fresh interpreter."""
    env = {**os.environ, "PATH": f"{fake_smi(tmp_path / 'bin', '550.54.15')}{os.pathsep}{os.environ['PATH']}",
           nvidia.PROC_VERSION_ENV: str(tmp_path / "absent"), "UMEVAL_CACHE": str(tmp_path / "cache")}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    args = ["run", "task=mini", "model=tiny-qwen2vl", "device=auto", f"output_dir={tmp_path / 'out'}",
            f"cache_dir={tmp_path / 'cache'}"]
    code = (f"import torch; {';'.join(pre) or 'pass'}; from umeval.cli import main; "
            f"raise SystemExit(main({args!r}))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("pre, needle", [
    ((), "but torch 2.13.0+cpu is a CPU-only build; update the NVIDIA driver"),
    (("torch.version.cuda = '13.0'",), "needs the CUDA 13.0 runtime (driver >= 580.65.06) and driver 550.54.15 is "
                                       "too old"),
])
def test_umeval_run_exits_2_before_any_data_or_weights(tmp_path, pre, needle):
    # Bug caught: device=auto quietly running the suite on the CPU on a machine with an old NVIDIA driver, or
    # the check coming after the synthetic data is generated or the tiny checkpoint is built (both land in
    # cache_dir, which must stay empty).
    out = run_cli(tmp_path, *pre)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: device=auto on a machine with an NVIDIA GPU (driver "
                                                   "550.54.15, from nvidia-smi)"), out.stderr
    assert needle in lines[0] and lines[0].endswith("or pass device=cpu to really run on the CPU")
    touched = [p for p in (tmp_path / "cache", tmp_path / "out") if p.exists() and any(p.rglob("*"))]
    assert touched == [], [str(f) for p in touched for f in p.rglob("*")]
