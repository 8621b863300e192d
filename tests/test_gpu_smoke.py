"""`make gpu-smoke` in its CPU dry mode: every check runs and passes here, and a broken device path fails it."""

from __future__ import annotations

from umeval.commands import gpu_smoke
from umeval.scoring import search as S


def test_dry_run_passes_every_check(tiny_model, cache_dir, capsys, monkeypatch):
    # Bugs caught: the smoke script itself broken (it must work the first time it meets a GPU), the OOM
    # back-off or the torch search path regressing, bf16 embeddings drifting from the float32 reference.
    monkeypatch.setattr(S, "_BROKEN", {})
    rc = gpu_smoke.main(["--dry", "--small", "--cache", str(cache_dir), "--checks", "cpu,disc,oom,gen,search"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.count("PASS") == 5 and "FAIL" not in out
    assert "bfloat16 on cpu vs float32 CPU" in out and "batch splits" in out and "torch:cpu" in out


def test_a_silent_cpu_fallback_fails_the_search_check(cache_dir, capsys, monkeypatch):
    # Bug caught: the GPU search failing and falling back to the CPU without the smoke check noticing.
    monkeypatch.setattr(S, "_BROKEN", {})

    def broken(*a, **kw):
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    monkeypatch.setattr(S, "_torch_top", broken)
    rc = gpu_smoke.main(["--dry", "--small", "--cache", str(cache_dir), "--checks", "search"])
    out = capsys.readouterr().out
    assert rc == 1 and "FAILED: search" in out and "numpy (fallback" in out
