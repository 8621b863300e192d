"""`make gpu-smoke` in its CPU dry mode: every check runs and passes here, and a broken device path fails it."""

from __future__ import annotations

from umeval.commands import gpu_smoke
from umeval.scoring import search as S


def test_dry_run_passes_every_check(tiny_model, cache_dir, capsys, monkeypatch):
    # Bugs caught: the smoke script itself broken (it must work the first time it meets a GPU), the OOM
    # back-off or the torch search path regressing, bf16 embeddings drifting from the float32 reference.
    monkeypatch.setattr(S, "_BROKEN", {})
    rc = gpu_smoke.main(["--dry", "--small", "--cache", str(cache_dir), "--checks",
                         "cpu,disc,oom,gen,search,families"])
    out = capsys.readouterr().out
    assert rc == 0, out
    # The families check runs every other family's tiny checkpoint: catches a family whose HF encoder breaks on
    # the device path, or whose bf16 vectors (or token matrices) part from float32 (the tiny ColQwen2.5 did, at
    # min cosine -0.71, until its LoRA update was drawn at the weights' scale).
    families = gpu_smoke.family_presets()
    assert {"tiny-colpali", "tiny-colqwen2.5", "tiny-qwen25vl-lamra", "tiny-qwen3vl-embedding"} <= set(families)
    assert out.count("PASS") == 5 + len(families) and "FAIL" not in out
    assert all("PASS" in line for line in out.splitlines() if any(line.find(p) > 0 for p in families))
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


def test_a_failed_reference_fails_its_dependent_checks(cache_dir, capsys, monkeypatch):
    # Bug caught (issue 19): when the CPU reference failed, the disc/oom/gen checks vanished and the summary
    # read "1/2 checks passed"; every chosen check must show, as FAIL with the reason, and be counted.
    monkeypatch.setattr(S, "_BROKEN", {})
    real = gpu_smoke.model_cfg

    def broken(dtype, **over):
        if dtype == "float32":
            raise OSError("tiny checkpoint unreadable (injected)")
        return real(dtype, **over)

    monkeypatch.setattr(gpu_smoke, "model_cfg", broken)
    rc = gpu_smoke.main(["--dry", "--small", "--cache", str(cache_dir), "--checks", "cpu,disc,oom,gen,search,vllm",
                         "--vllm", "yes"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 1
    fails = [line for line in out if line.startswith("FAIL")]
    assert len(fails) == 5, out
    assert "HF float32 on the CPU (reference): OSError: tiny checkpoint unreadable (injected)" in fails[0]
    for name, line in zip(("HF disc, bf16 on cpu", "OOM back-off", "HF gen, bf16 on cpu", "vLLM disc + gen"),
                          fails[1:]):
        assert name in line and line.endswith("not run: the CPU reference failed"), line
    assert out[-1].startswith("gpu-smoke: 1/6 checks passed in ")
    assert out[-1].endswith("FAILED: HF float32 on the CPU (reference), HF disc, bf16 on cpu, OOM back-off (injected "
                            "CUDA OOM for batches > 1), HF gen, bf16 on cpu, vLLM disc + gen")


def test_the_smoke_run_needs_nothing_beyond_torch_transformers_and_the_carried_wheels(tmp_path):
    # Bug caught (issue 19): `make gpu-smoke` importing a pure-Python package (qwen-vl-utils was one) that a bare
    # GPU machine lacks and the carried wheels do not bring.  The smoke checks run in a fresh interpreter without
    # site-packages (-S) whose path holds only torch, torchvision, transformers, pillow, numpy with their
    # requirements, and the carried distributions (linked from this environment, as the wheels would bring
    # them): any other import fails its check.
    import importlib.metadata as md
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    root = Path(__file__).resolve().parents[1]

    def closure(names: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = [canonicalize_name(n) for n in names]
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            try:
                reqs = md.requires(n) or []
            except md.PackageNotFoundError:
                continue
            todo += [canonicalize_name(q.name) for q in map(Requirement, reqs)
                     if q.marker is None or q.marker.evaluate({"extra": ""})]
        return seen

    makefile = (root / "Makefile").read_text()
    carried = set(re.search(r"^SMOKE_WHEELS := (.+)$", makefile, re.M).group(1).split("|"))
    carried.add("antlr4-python3-runtime")  # built by `pip wheel` (no wheel on PyPI)
    site = tmp_path / "site"
    site.mkdir()
    for name in closure({"torch", "torchvision", "transformers", "pillow", "numpy"}) | carried:
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        for top in {Path(f).parts[0] for f in dist.files or []} - {"..", "__pycache__"}:
            if not (site / top).exists():
                (site / top).symlink_to(dist.locate_file(top))
    code = ("import umeval.compat.torchvision_cpu as t; t.install(); from umeval.commands import gpu_smoke; "
            f"from pathlib import Path; gpu_smoke.WHEELS = Path({str(tmp_path / 'no-wheels')!r}); "  # not wheels/
            f"raise SystemExit(gpu_smoke.main(['--dry', '--small', '--cache', {str(tmp_path)!r}, "
            "'--checks', 'cpu,disc,gen,families']))")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{root}"}
    r = subprocess.run([sys.executable, "-S", "-c", code], cwd=root, env=env, capture_output=True, text=True,
                       timeout=600)
    # peft is not carried (psutil, one of its requirements, is compiled): the ColQwen2.5 check says so and is
    # counted as skipped; every other family runs on what a bare GPU machine has.
    assert r.returncode == 0 and "6/6 checks passed, 1 skipped" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    assert "SKIP tiny-colqwen2.5: HF disc, bf16 on cpu: needs peft" in r.stdout, r.stdout[-3000:]
