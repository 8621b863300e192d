"""The loader registry (issue 15): a loader registers with its fixture writer and its probe."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import umeval.loaders.registry as LR
from umeval.core.errors import ConfigError, DataError
from umeval.core.registry import discover_tasks
from umeval.core.types import TaskData
from umeval.loaders import LoadContext, load_task, preflight
from umeval.testing.fixtures import write_fixture

FAMILIES = ("beir", "mmeb_image", "momentseeker", "video_cls", "video_mret", "video_qa", "video_ret")


def _one_task_per_family() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, spec in discover_tasks().items():
        if not spec.source.generated:
            out.setdefault(spec.family, name)
    return out


def test_every_task_family_has_a_loader_with_importable_load_fixture_and_probe():
    # Catches a task spec naming a family no loader registers (it would fail only when run, after the others
    # had loaded their data), a registered reference that does not import (typo in a module or function
    # name), and a loader module that no longer registers itself (discovery would miss its families).
    reg = LR.discover_loaders()
    assert sorted(reg) == list(FAMILIES)
    assert {spec.family for _, spec in discover_tasks().items()} <= set(reg)
    for family, entry in reg.items():
        assert entry.family == family and entry.description
        assert callable(entry.load_fn()) and callable(entry.fixture_fn())
        assert entry.probe is None or callable(entry.probe_fn())


@pytest.mark.parametrize("family", FAMILIES)
def test_fixture_writer_then_probe_then_load(family, fixture_root):
    # Catches a family whose registered writer, probe and loader disagree on the layout (the probe looking
    # for a subset the writer does not write, e.g. MVBench's first subset or BEIR's queries) or a load that
    # gives no items from its own fixture.
    task = _one_task_per_family()[family]
    spec = discover_tasks().get(task)
    ctx = LoadContext(data_root=fixture_root, allow_hub=False)
    preflight(spec, ctx)
    data = load_task(spec, ctx)
    assert data.queries and data.candidates and len(data.qrels) == len(data.queries)


@pytest.mark.parametrize("family", FAMILIES)
def test_probe_fails_in_one_line_on_an_empty_root_with_the_hub_off(family, tmp_path):
    # Catches a probe that passes without data (the run would load weights, then fail), and one whose error
    # does not name the file it looked for and the download line.
    spec = discover_tasks().get(_one_task_per_family()[family])
    with pytest.raises(DataError) as e:
        preflight(spec, LoadContext(data_root=tmp_path, allow_hub=False))
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / spec.source.hub_id) in msg and "hf download" in msg
    assert msg.startswith(f"task {spec.name}: no local copy of {spec.source.hub_id}")


def test_an_unknown_family_fails_in_one_line_with_a_suggestion(tmp_path):
    # Catches an unknown family surfacing as a KeyError/traceback (or a silent default loader) at run time,
    # in the probe (before weights), the loader and the fixture writer alike.
    spec = dataclasses.replace(discover_tasks().get("MVBench"), family="vidoe_qa")
    for call in (lambda: preflight(spec, LoadContext(data_root=tmp_path, allow_hub=False)),
                 lambda: load_task(spec, LoadContext(data_root=tmp_path)),
                 lambda: write_fixture(spec, tmp_path)):
        with pytest.raises(ConfigError) as e:
            call()
        msg = str(e.value)
        assert "\n" not in msg and "no loader for data family 'vidoe_qa'" in msg
        assert "known: beir, mmeb_image," in msg and "did you mean video_qa?" in msg


def test_a_bad_reference_or_a_second_registration_is_refused():
    # Catches a registration that accepts a reference load_object cannot import (found only when a task of
    # the family runs) and a second registration silently replacing a family's loader.
    with pytest.raises(ConfigError, match="fixture='umeval.data.synthetic.write_beir' is not a"):
        LR.LoaderEntry("x", load="umeval.loaders.beir:load", fixture="umeval.data.synthetic.write_beir")
    with pytest.raises(ConfigError, match="loader 'beir' is registered twice"):
        LR.register_loader("beir", load="umeval.loaders.beir:load", fixture="umeval.data.synthetic:write_beir")
    entry = LR.LoaderEntry("x", load="umeval.loaders.beir:no_such_fn", fixture="umeval.data.synthetic:write_beir")
    with pytest.raises(ConfigError, match="cannot import its load umeval.loaders.beir:no_such_fn"):
        entry.load_fn()


# ---------------------------------------------------------------- third-party loaders

def _third_party_module(folder: Path, module: str, family: str) -> None:
    """A loader module outside umeval: one text query, one text candidate, its own writer and probe."""
    (folder / f"{module}.py").write_text(textwrap.dedent(f"""
        from umeval.core.errors import DataError
        from umeval.loaders.registry import register_loader
        from umeval.core.types import Item, TaskData

        def write(spec, root, rng, **kw):
            root.mkdir(parents=True, exist_ok=True)
            (root / "{family}.txt").write_text("hello")
            return [1]

        def probe(spec, ctx):
            if not (ctx.data_root / "{family}.txt").exists():
                raise DataError("no {family}.txt", "run write", task=spec.name)

        def load(spec, ctx):
            text = (ctx.data_root / "{family}.txt").read_text()
            return TaskData(task=spec.name, queries=[Item(id="q", text=text)],
                            candidates=[Item(id="c", text=text)], qrels={{"q": {{"c": 1.0}}}})

        register_loader("{family}", load="{module}:load", fixture="{module}:write", probe="{module}:probe",
                        description="a third-party test family")
    """))


def _dispatched(family: str, tmp_path: Path) -> TaskData:
    spec = dataclasses.replace(discover_tasks().get("Mini-T2V"), family=family)
    data_root = tmp_path / "data"
    with pytest.raises(DataError, match=f"no {family}.txt"):  # its own probe, not the default one
        preflight(spec, LoadContext(data_root=data_root))
    write_fixture(spec, data_root)  # its own writer, through the registry
    preflight(spec, LoadContext(data_root=data_root))
    return load_task(spec, LoadContext(data_root=data_root))


def test_a_loader_registered_by_calling_register_loader_is_dispatched(tmp_path, monkeypatch):
    # Catches a dispatcher that keeps its own table of families (a plugin's family would be "unknown"), or
    # that runs the default probe or another family's writer for it.
    _third_party_module(tmp_path, "umeval_test_loader_call", "tp_call")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        __import__("umeval_test_loader_call")
        data = _dispatched("tp_call", tmp_path)
        assert [q.text for q in data.queries] == ["hello"] and data.qrels == {"q": {"c": 1.0}}
    finally:
        LR.unregister_loader("tp_call")
        sys.modules.pop("umeval_test_loader_call", None)
    assert "tp_call" not in LR.LOADERS


def test_a_loader_registered_by_entry_point_is_discovered_and_dispatched(tmp_path, monkeypatch):
    # Catches discovery that walks only umeval.loaders and ignores the `umeval.loaders` entry-point group.
    _third_party_module(tmp_path, "umeval_test_loader_ep", "tp_ep")
    dist = tmp_path / "umeval_test_loader_ep-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: umeval-test-loader-ep\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[umeval.loaders]\ntp_ep = umeval_test_loader_ep\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(LR, "_discovered", False)  # discover again, now with the entry point on the path
    try:
        assert "tp_ep" in LR.discover_loaders()
        assert [q.text for q in _dispatched("tp_ep", tmp_path).queries] == ["hello"]
    finally:
        LR.unregister_loader("tp_ep")
        sys.modules.pop("umeval_test_loader_ep", None)


def test_discovering_loaders_and_listing_tasks_import_no_torch():
    # Catches a loader module (or the registry) importing torch at module level: `umeval list tasks` and the
    # preflight of a run would pay seconds of import for nothing, and a CPU-less install would fail there.
    code = ("import sys; from umeval.core.registry import resolve_tasks; resolve_tasks('all'); "
            "from umeval.loaders.registry import discover_loaders; assert len(discover_loaders()) == 7; "
            "import umeval.data.embedded; assert 'umeval.testing.fixtures' not in sys.modules, 'fixtures'; "
            "assert 'torch' not in sys.modules, 'torch'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


def test_the_mini_data_is_written_by_the_registered_writer(tmp_path):
    # Catches the embedded default and the fixtures drifting apart (two writers for one layout): the mini
    # suite's data is what the registered writer writes for the same seed, byte for byte.
    from umeval.data.embedded import ensure_generated

    spec = discover_tasks().get("Mini-VisDoc")
    gen = ensure_generated([spec], tmp_path / "cache", seed=3)
    fx = write_fixture(spec, tmp_path / "fx", seed=3)
    files = sorted(p.relative_to(fx) for p in fx.rglob("*") if p.is_file())
    assert files and all((gen / f).read_bytes() == (fx / f).read_bytes() for f in files)


def test_a_writer_gets_the_seeded_rng(tmp_path):
    # Catches write_fixture seeding per call instead of per (seed, task): two tasks would share their images.
    entry = LR.loader_entry("mmeb_image")
    spec = discover_tasks().get("Mini-ImageCLS")
    a = entry.write_fixture(spec, tmp_path / "a", np.random.default_rng([0, sum(spec.name.encode())]))
    write_fixture(spec, tmp_path / "b", seed=0)
    assert a == [1] * 6
    img = Path(spec.source.media_dir) / spec.name / "images" / "0000.png"
    assert (tmp_path / "a" / img).read_bytes() == (tmp_path / "b" / img).read_bytes()


