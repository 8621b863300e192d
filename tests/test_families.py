"""Model families as plugins (issue 15): metadata, validation, cache keys, and an engine that names no family."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest
from _code_names import code_names

import umeval
from umeval.core.config import ModelConfig, compose_config
from umeval.core.errors import ConfigError
from umeval.core.registry import model_config, model_names
from umeval.models.family import DEFAULT_KEY_FIELDS, FAMILIES, NOT_IN_KEY, ModelMeta, discover_families, get_family

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
    from umeval.run.context import encoder_fingerprint

    base = compose_config(["model=oracle"])
    anti = compose_config(["model=oracle", "+model.options.anti=true"])
    assert encoder_fingerprint(base) != encoder_fingerprint(anti)
    default = compose_config(["model=oracle", "+model.options.anti=false"])  # the declared default: same key
    assert encoder_fingerprint(base) == encoder_fingerprint(default)


def test_family_version_is_in_the_cache_key(monkeypatch):
    """Catches a family bumping its version (its input changed) while old vectors stay reusable."""
    from umeval.run.context import encoder_fingerprint

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

    from umeval.run.context import encoder_ref
    from umeval.run.runtime import resolve_backend

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
    from umeval.run.context import encoder_fingerprint, encoder_ref
    from umeval.run.runner import run

    meta = ModelMeta(name="toy", description="test family", encoders={"hf": "umeval.testing.hash_encoder:HashEncoder"},
                     modes=("disc",))
    monkeypatch.setitem(FAMILIES._items, "toy", meta)
    cfg = compose_config(["task=mini", "model=oracle", "model.family=toy", "model.name=toy", "model.modes=[disc]",
                          f"output_dir={tmp_path / 'out'}", f"cache_dir={tmp_path / 'cache'}", "progress=false",
                          "hub=false"])
    assert encoder_ref(cfg) == "umeval.testing.hash_encoder:HashEncoder"
    assert len(encoder_fingerprint(cfg)) == 16
    summary = run(cfg)
    assert summary.encoder_calls > 0 and not summary.failed
    assert all(s["status"] == "ok" for s in summary.scores)


def test_the_engine_names_no_baseline_family():
    """Done-when of issues 15 and 20: no engine file names a baseline family.  Catches any engine module
    (everything outside umeval/models/) that branches on, imports or names gme, lamra, qwen3-vl-embedding or
    vlm2vec-v1 in code (docstrings may cite them)."""
    import re

    word = re.compile(r"(^|[^a-z])(gme|lamra|qwen3[-_]?vl[-_]?embedding|vlm2vec[-_]v1)([^a-z0-9]|$)", re.IGNORECASE)
    offenders = []
    for path in PKG.rglob("*.py"):
        if "models" in path.relative_to(PKG).parts[:1]:
            continue
        for const in code_names(ast.parse(path.read_text())):
            if word.search(const):
                offenders.append(f"{path.relative_to(PKG)}: {const[:60]!r}")
    assert not offenders, offenders


def test_encoders_do_not_look_families_up():
    """Issue 20: the run hands an encoder what its family declares (``model.formats``, ``model.options``); an
    encoder never asks the registry.  Catches any module under umeval/encoders/ importing umeval.models (the
    family registry or a family package), at the top or inside a function."""
    offenders = []
    for path in (PKG / "encoders").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.name}: {n}" for n in names if n == "umeval.models" or n.startswith("umeval.models.")]
    assert not offenders, offenders


def test_listing_families_imports_no_torch():
    """`umeval list families` and preset validation read metadata only; catches a family package importing its
    encoder (and torch) at registration."""
    import subprocess
    import sys

    code = ("import sys; from umeval.models.family import discover_families; discover_families(); "
            "from umeval.core.config import compose_config; compose_config(['model=gme-qwen2vl-2b']); "
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


# ---------------------------------------------------------------- roles

class _RoleSpy:
    """An encoder that records the role of every call; the vector says which role it was encoded for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def embed(self, items, *, task=None, role="query", advance=None):  # type: ignore[no-untyped-def]
        import numpy as np

        self.calls.append((role, len(items)))
        return np.tile(np.array([1.0, 0.0] if role == "query" else [0.0, 1.0], dtype=np.float32), (len(items), 1))


@pytest.mark.parametrize("role_keyed", [False, True])
def test_store_keys_hold_the_role_only_for_families_whose_roles_differ(tmp_path, role_keyed):
    """An item that is a query in one task and a candidate in another: encoded once for a family that writes both
    alike, twice (and read back per role) for one that does not.  Catches a roles="differ" family being served
    its query vector as a candidate from the store, and a roles="same" family paying for every item twice."""
    import numpy as np

    from umeval.core.types import Item
    from umeval.run.memo import EmbeddingMemo
    from umeval.run.store import EmbeddingStore

    memo = EmbeddingMemo(EmbeddingStore(tmp_path / "s"), "enc", role_keyed=role_keyed)
    spy = _RoleSpy()
    item = Item(id="x", text="a shared text")
    q = memo.embed(lambda: spy, [item], mode="disc", task="T1", role="query")
    c = memo.embed(lambda: spy, [item], mode="disc", task="T2", role="candidate")
    assert [r for r, _ in spy.calls] == (["query", "candidate"] if role_keyed else ["query"])
    np.testing.assert_array_equal(c.vectors[0], [0.0, 1.0] if role_keyed else [1.0, 0.0])
    assert np.array_equal(q.vectors[0], [1.0, 0.0])


def test_the_runner_keys_by_role_when_the_family_says_so():
    """The runner asks the family (not a family name) whether roles differ: the oracle family declares "differ"
    (its anti option negates queries), GME declares "same".  Catches the memo's role_keyed never being set."""
    from umeval.models.family import roles_differ

    assert roles_differ(compose_config(["model=oracle"]).model)
    assert not roles_differ(compose_config(["model=gme-qwen2vl-2b"]).model)


def test_a_format_per_role_needs_roles_differ():
    """Catches a family with separate query/candidate formats whose vectors would share one store key."""
    with pytest.raises(ConfigError, match="declare roles='differ'"):
        ModelMeta(name="x", description="", encoders={"hf": "a:b"},
                  prompts={"f": {"query": "a:q", "candidate": "a:c"}})


def test_candidates_get_the_candidate_format(monkeypatch, cache_dir):
    """A family with a format per role: the HF encoder writes a query with the query format and a candidate with
    the candidate format, through ``embed(role=...)`` down to the prompt.  Catches the role being dropped on the
    way (every item written as a query)."""
    from umeval.core.plugins import load_object
    from umeval.core.types import Item
    from umeval.models.family import encoder_ref

    meta = ModelMeta(name="twofmt", description="test family", roles="differ",
                     encoders={"hf": "umeval.encoders.qwen2vl:Qwen2VLEncoder"},
                     prompts={"two": {"query": "umeval.models.ume_r1.prompt:ume_r1",
                                      "candidate": "umeval.models.vlm2vec.prompt:vlm2vec"}},
                     options={"disc_readout": "disc_emb"})  # the tiny-qwen2vl preset sets this UME-R1 option
    monkeypatch.setitem(FAMILIES._items, "twofmt", meta)
    cfg = compose_config(["model=tiny-qwen2vl", "model.family=twofmt", "model.prompt=two", "model.modes=[disc]"])
    enc = load_object(encoder_ref(cfg, "hf"))(cfg.model, cache_dir=cache_dir, device="cpu", num_workers=1)
    seen: list[tuple[str, str]] = []
    real = enc.build_prompt

    def spy(item, task=None, role="query"):  # type: ignore[no-untyped-def]
        p = real(item, task, role)
        seen.append((role, p.text))
        return p

    monkeypatch.setattr(enc, "build_prompt", spy)
    items = [Item(id="a", text="red apple"), Item(id="b", text="blue sky")]
    enc.embed(items, role="query")
    enc.embed(items, role="candidate")
    assert {r for r, _ in seen} == {"query", "candidate"}
    assert all(t.startswith("<|im_start|>") and "<disc_emb>" in t for r, t in seen if r == "query")  # UME-R1
    assert all(t in ("red apple", "blue sky") for r, t in seen if r == "candidate")  # VLM2Vec: the bare text
    # `umeval prompts` shows each side as the model receives it (catches candidates shown in the query format).
    from umeval.commands.prompts import item_inputs

    assert item_inputs(enc, items[0], task="T", role="candidate")["text"] == "red apple"
    assert item_inputs(enc, items[0], task="T", role="query")["text"].startswith("<|im_start|>")


#: What each family of issue 20 added, file by file: its folder, its presets, its tests (and nothing else).
FAMILY_FILES = {
    "vlm2vec-v1": ["umeval/models/vlm2vec/prompt.py", "umeval/models/vlm2vec/__init__.py",
                   "umeval/models/vlm2vec/reference/VLM2Vec-V1-Qwen2VL-2B.json",
                   "umeval/models/vlm2vec/reference/VLM2Vec-V1-Qwen2VL-7B.json",
                   "conf/model/vlm2vec-v1-qwen2vl-2b.yaml", "conf/model/vlm2vec-v1-qwen2vl-7b.yaml",
                   "tests/test_vlm2vec_v1.py"],
    "qwen3-vl-embedding": ["umeval/models/qwen3_vl_embedding/__init__.py",
                           "umeval/models/qwen3_vl_embedding/prompt.py", "umeval/models/qwen3_vl_embedding/tiny.py",
                           "umeval/models/qwen3_vl_embedding/cost.py", "tests/test_qwen3_vl_vllm.py",
                           "umeval/models/qwen3_vl_embedding/reference/Qwen3-VL-Embedding-2B.json",
                           "umeval/models/qwen3_vl_embedding/reference/Qwen3-VL-Embedding-8B.json",
                           "conf/model/qwen3-vl-embedding-2b.yaml", "conf/model/qwen3-vl-embedding-8b.yaml",
                           "conf/model/tiny-qwen3vl-embedding.yaml", "tests/test_qwen3_vl_embedding.py"],
    "colqwen2.5": ["umeval/models/colqwen/__init__.py", "umeval/models/colqwen/prompt.py",
                   "umeval/models/colqwen/encoder.py", "umeval/models/colqwen/checkpoint.py",
                   "umeval/models/colqwen/tiny.py", "umeval/models/colqwen/reference/colqwen2.5-v0.2.json",
                   "conf/model/colqwen2.5.yaml", "conf/model/tiny-colqwen2.5.yaml", "tests/test_colqwen.py"],
}
FAMILY_FOLDERS = {"vlm2vec-v1": "umeval/models/vlm2vec/", "qwen3-vl-embedding": "umeval/models/qwen3_vl_embedding/",
                  "colqwen2.5": "umeval/models/colqwen/"}


@pytest.mark.parametrize("family", sorted(FAMILY_FILES))
def test_a_new_family_is_its_folder_presets_and_tests(family):
    """The files each family of issue 20 touched: all under its folder, conf/model/ or tests/, all present, and
    every file of its folder listed (a family file somewhere else, or an unlisted one, fails here).  Besides
    these, the families used engine capabilities added once for every family: ``Item.parts`` (loaders),
    ``Prompt.resized``/``video_metadata`` (encoders/pixels.py, and on vLLM ``VllmEncoder.media``/``call_kwargs``),
    formats taking the task (``wants_task``)."""
    root = PKG.parent
    files = FAMILY_FILES[family]
    folder = FAMILY_FOLDERS[family]
    assert all(f.startswith((folder, "conf/model/", "tests/")) for f in files), files
    assert all((root / f).is_file() for f in files), [f for f in files if not (root / f).is_file()]
    if family in ("qwen3-vl-embedding", "colqwen2.5"):  # a whole new folder: every file in it is the family's
        on_disk = {str(p.relative_to(root)) for p in (root / folder).rglob("*") if p.is_file()
                   and "__pycache__" not in p.parts}
        assert on_disk == {f for f in files if f.startswith(folder)}
