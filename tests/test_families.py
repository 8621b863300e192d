"""Model families as plugins (issue 15): metadata, validation, cache keys, and an engine that names no family."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

import umeval
from umeval.config import ModelConfig, compose_config
from umeval.errors import ConfigError
from umeval.family import DEFAULT_KEY_FIELDS, FAMILIES, NOT_IN_KEY, ModelMeta, discover_families, get_family
from umeval.registry import model_config, model_names

PKG = Path(umeval.__file__).resolve().parent


def test_every_model_setting_is_keyed_or_says_why_not():
    """Catches a new ModelConfig setting that changes vectors but stays out of the embedding cache key (stale
    vectors served after changing it): every field is in the default key fields or in NOT_IN_KEY with a reason."""
    names = {f.name for f in fields(ModelConfig)}
    assert names == set(DEFAULT_KEY_FIELDS) | set(NOT_IN_KEY), names ^ (set(DEFAULT_KEY_FIELDS) | set(NOT_IN_KEY))
    assert not set(DEFAULT_KEY_FIELDS) & set(NOT_IN_KEY)


@pytest.mark.parametrize("preset", model_names())
def test_every_preset_composes_against_its_family(preset):
    """Catches a preset naming no or an unknown family, a prompt its family lacks, or a mode it cannot run."""
    cfg = compose_config([f"model={preset}"])
    meta = get_family(cfg.model.family)
    assert set(cfg.model.modes) <= set(meta.modes)
    assert not meta.prompts or cfg.model.prompt in meta.prompts


def test_preset_revisions_are_the_families_pinned_commits():
    """Catches a preset drifting from the commit its family pins (a different checkpoint than the published one)."""
    pinned = {c.preset: c for _, m in discover_families().items() for c in m.checkpoints}
    checked = 0
    for preset in model_names():
        cfg = model_config(preset)
        if preset in pinned and cfg.get("path"):
            assert cfg["path"] == pinned[preset].hub_id, preset
            assert str(cfg.get("revision", "main")) == pinned[preset].revision, preset
            checked += 1
    assert checked >= 7  # ume-r1 x2, vlm2vec, gme x2, lamra x2


def test_family_option_is_in_the_cache_key():
    """Catches a family's own setting (model.options) that does not change the cache key: anti-oracle vectors
    would be served to the oracle from the store."""
    from umeval.runner import encoder_fingerprint

    base = compose_config(["model=oracle"])
    anti = compose_config(["model=oracle", "+model.options.anti=true"])
    assert encoder_fingerprint(base) != encoder_fingerprint(anti)
    default = compose_config(["model=oracle", "+model.options.anti=false"])  # the declared default: same key
    assert encoder_fingerprint(base) == encoder_fingerprint(default)


def test_family_version_is_in_the_cache_key(monkeypatch):
    """Catches a family bumping its version (its input changed) while old vectors stay reusable."""
    from umeval.runner import encoder_fingerprint

    cfg = compose_config(["model=gme-qwen2vl-2b"])
    before = encoder_fingerprint(cfg)
    meta = get_family("gme")
    monkeypatch.setitem(FAMILIES._items, "gme", ModelMeta(**{**meta.__dict__, "version": "99"}))
    assert encoder_fingerprint(cfg) != before


@pytest.mark.parametrize(("overrides", "message"), [
    (["model=gme-qwen2vl-2b", "backend=vllm"], "family gme has no vllm backend"),
    (["model=gme-qwen2vl-2b", "model.family=gmee"], "unknown model family 'gmee'; did you mean gme?"),
    (["model=oracle", "+model.options.antti=true"], "unknown option model.options.antti for family oracle"),
    (["model=oracle", "model.options.anti=true"], "the preset does not set model.options.anti"),
    (["model=vlm2vec-v2", "model.modes=[disc,gen]"], "family vlm2vec has no gen mode"),
    (["model=gme-qwen2vl-2b", "model.prompt=vlm2vec"], "model.prompt=vlm2vec is not a prompt format of family gme"),
])
def test_preset_errors_are_one_line_before_weights(overrides, message):
    """Catches a GME run silently going to the Qwen2-VL vLLM encoder (backend=vllm), a typo'd family or option
    ignored, a mode the family cannot run reaching the encoder, and a foreign prompt format."""
    with pytest.raises(ConfigError) as e:
        compose_config(overrides)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_auto_backend_keeps_a_family_without_vllm_on_hf(monkeypatch):
    """On a GPU box with vLLM installed, backend=auto picks vLLM only for families that have a vLLM encoder.
    Catches GME (no vLLM twin) being run by the UME-R1 vLLM encoder, or its rows saying backend=vllm."""
    import importlib.util

    import torch

    from umeval.provenance import resolve_backend
    from umeval.runner import encoder_ref

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: object() if n == "vllm" else real(n, *a))
    gme = compose_config(["model=gme-qwen2vl-2b"])
    assert resolve_backend(gme) == "hf" and encoder_ref(gme) == "umeval.encoders.qwen2vl:Qwen2VLEncoder"
    ume = compose_config(["model=ume-r1-2b"])
    assert resolve_backend(ume) == "vllm" and encoder_ref(ume) == "umeval.encoders.vllm_backend:VllmEncoder"


def test_a_third_party_family_runs_with_no_engine_change(monkeypatch, tmp_path):
    """A family registered from outside the engine (here: by the test) is run by the runner through its declared
    encoder and keyed by its declared fingerprint.  Catches the runner choosing encoders or keys by family name."""
    from umeval.runner import encoder_fingerprint, encoder_ref, run

    meta = ModelMeta(name="toy", description="test family", encoders={"hf": "umeval.hash_encoder:HashEncoder"},
                     modes=("disc",))
    monkeypatch.setitem(FAMILIES._items, "toy", meta)
    cfg = compose_config(["task=mini", "model=oracle", "model.family=toy", "model.name=toy", "model.modes=[disc]",
                          f"output_dir={tmp_path / 'out'}", f"cache_dir={tmp_path / 'cache'}", "progress=false",
                          "hub=false"])
    assert encoder_ref(cfg) == "umeval.hash_encoder:HashEncoder"
    assert len(encoder_fingerprint(cfg)) == 16
    summary = run(cfg)
    assert summary.encoder_calls > 0 and not summary.failed
    assert all(s["status"] == "ok" for s in summary.scores)


def _code_constants(tree: ast.AST) -> list[str]:
    """String constants and names of a module, docstrings left out."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            out.append(node.value)
        elif isinstance(node, ast.Name):
            out.append(node.id)
        elif isinstance(node, ast.Attribute):
            out.append(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out += [getattr(node, "module", "") or ""] + [a.name for a in node.names]
    return out


def test_the_engine_names_no_baseline_family():
    """Done-when of issue 15: adding GME and LamRA changed no engine file.  Catches any engine module (everything
    outside umeval/models/) that branches on, imports or names the gme or lamra family in code."""
    import re

    word = re.compile(r"(^|[^a-z])(gme|lamra)([^a-z]|$)", re.IGNORECASE)
    offenders = []
    for path in PKG.rglob("*.py"):
        if "models" in path.relative_to(PKG).parts[:1]:
            continue
        for const in _code_constants(ast.parse(path.read_text())):
            if word.search(const):
                offenders.append(f"{path.relative_to(PKG)}: {const[:60]!r}")
    assert not offenders, offenders


def test_listing_families_imports_no_torch():
    """`umeval list families` and preset validation read metadata only; catches a family package importing its
    encoder (and torch) at registration."""
    import subprocess
    import sys

    code = ("import sys; from umeval.family import discover_families; discover_families(); "
            "from umeval.config import compose_config; compose_config(['model=gme-qwen2vl-2b']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_every_package_ships_in_the_wheel():
    """pyproject lists packages by name; catches a new family folder (or any subpackage) left out of the wheel,
    where discovery would silently not find the family."""
    import tomllib

    listed = set(tomllib.loads((PKG.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(("umeval", *p.parent.relative_to(PKG).parts)) for p in PKG.rglob("__init__.py")}
    assert found - listed == set()
