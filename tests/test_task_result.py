"""The typed, versioned task result (``scores.json``), the typed run plan, and the role the encoder is told.

The runner is driven for real with the weight-free encoder of tests/fakes.py.  ``golden/scores_v1/*.json`` are
``scores.json`` files written by umeval before the schema had a version (commit 842f46f: a mode=both run of
Mini-ImageCLS, and a task failed for missing data), kept byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeEncoder

from umeval.core.config import compose_config
from umeval.core.errors import DataError
from umeval.core.registry import resolve_tasks
from umeval.results import board
from umeval.results.files import RUNTIME_COLUMNS
from umeval.results.task_result import PROVENANCE_FIELDS, SCHEMA_VERSION, NewerSchemaError, TaskResult
from umeval.run.context import RunContext
from umeval.run.planning import ResumePlan, TaskPlan, plan_run
from umeval.run.runner import run
from umeval.run.runtime import resolve_runtime

GOLDEN = Path(__file__).parent / "golden" / "scores_v1"
MODEL = "tiny-qwen2vl"


def make_cfg(tmp: Path, *extra: str):
    return compose_config(["task=mini", f"model={MODEL}", f"output_dir={tmp / 'out'}", f"cache_dir={tmp / 'cache'}",
                           "progress=false", "backend=hf", *extra])


def scores_files(tmp: Path) -> list[Path]:
    return sorted((tmp / "out" / MODEL / "tasks").glob("*/*/scores.json"))


def contexts(tmp: Path, cfg):  # type: ignore[no-untyped-def]
    """``ctx_for`` as the runner builds it for the generated mini tasks."""
    from umeval.data.embedded import ensure_generated
    from umeval.loaders import LoadContext

    root = ensure_generated(resolve_tasks("mini"), tmp / "cache", seed=cfg.seed)
    return lambda spec: LoadContext(data_root=root, instruction_set="official", limit=cfg.limit,
                                    num_frames=int(cfg.model.num_frames), allow_hub=False,
                                    spill_dir=tmp / "cache" / "pages")


def to_v1(path: Path) -> None:
    """Rewrite a version-2 file in the layout of the previous version, by hand (not through the reader)."""
    d = json.loads(path.read_text())
    assert d.pop("schema_version") == 2
    d.update(d.pop("provenance"))
    path.write_text(json.dumps(d, indent=2, sort_keys=True))


# ---------------------------------------------------------------- the schema


@pytest.mark.parametrize("name", ["disc", "gen", "oracle", "failed"])
def test_v1_file_reads_to_the_same_flat_row(name):
    """Catches a reader that drops, renames or invents a field of the files written before the version existed
    (the leaderboard, show, export and compare read this flat view)."""
    raw = json.loads((GOLDEN / f"{name}.json").read_text())
    r = TaskResult.read(GOLDEN / f"{name}.json")
    assert r.to_row() == raw
    assert r.provenance.torch_version == raw["torch_version"] and r.provenance.timestamp == raw["timestamp"]
    assert r.extra == {}  # every v1 field has its place in the typed result


def test_v2_layout_round_trips_with_a_provenance_block(tmp_path):
    """Catches provenance left at the top level, a missing schema_version, or a write/read pair that loses a
    field (e.g. the gen diagnostics or the notes)."""
    r = TaskResult.read(GOLDEN / "gen.json")
    r.write(tmp_path / "scores.json")
    on_disk = json.loads((tmp_path / "scores.json").read_text())
    assert on_disk["schema_version"] == SCHEMA_VERSION == 2
    assert sorted(on_disk["provenance"]) == sorted(PROVENANCE_FIELDS)
    assert not set(PROVENANCE_FIELDS) & set(on_disk)
    assert on_disk["diagnostics"] == r.diagnostics and on_disk["notes"] == r.notes
    assert TaskResult.read(tmp_path / "scores.json") == r
    assert not list(tmp_path.glob(".*.tmp"))  # written through the atomic writer


def test_future_schema_is_one_line_error_naming_file_and_fix(tmp_path):
    """Catches a newer file read as if it were this version (fields misread), or silently replaced by a re-run."""
    d = json.loads((GOLDEN / "disc.json").read_text()) | {"schema_version": SCHEMA_VERSION + 1}
    f = tmp_path / "scores.json"
    f.write_text(json.dumps(d))
    with pytest.raises(NewerSchemaError) as e:
        TaskResult.read(f)
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg and "upgrade umeval" in msg
    assert f"schema_version {SCHEMA_VERSION + 1}" in msg
    with pytest.raises(NewerSchemaError):  # the resume path does not treat it as "no result, re-run"
        board.read_scores(f)


def test_unreadable_file_is_no_result_for_resume(tmp_path):
    """Catches a half-written or foreign scores.json crashing the resume instead of re-running the task."""
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text(json.dumps({"metrics": {}}))
    assert board.read_scores(tmp_path / "a.json") is None and board.read_scores(tmp_path / "b.json") is None
    with pytest.raises(DataError, match="b.json"):
        TaskResult.read(tmp_path / "b.json")


def test_runtime_fields_all_have_a_place_in_the_provenance_block(tmp_path):
    """Catches a field added to resolve_runtime (or RUNTIME_COLUMNS) with no place in the provenance block:
    it would be dropped from every scores.json."""
    assert set(resolve_runtime(make_cfg(tmp_path))) == set(RUNTIME_COLUMNS) <= set(PROVENANCE_FIELDS)


# ---------------------------------------------------------------- resume


def test_v1_results_of_the_previous_version_are_reused(tmp_path):
    """Catches the upgrade to schema 2 re-encoding (or re-running) every finished task of an existing folder."""
    cfg = make_cfg(tmp_path, "mode=both")
    first = run(cfg, encoder_factory=FakeEncoder)
    assert first.encoder_calls > 0
    for f in scores_files(tmp_path):
        to_v1(f)
    again = run(cfg, encoder_factory=FakeEncoder)
    assert again.encoder_calls == 0 and not again.failed

    def rows(summary):  # type: ignore[no-untyped-def]
        return json.dumps({f'{s["task"]}/{s["mode"]}': s for s in summary.scores}, sort_keys=True)  # NaN == NaN

    assert rows(again) == rows(first)  # the same rows, provenance included
    disc = json.loads((tmp_path / "out" / MODEL / "tasks" / "Mini-T2V" / "disc" / "scores.json").read_text())
    assert "schema_version" not in disc  # reused as it is, not rewritten


def test_plan_after_one_finished_task_is_exactly_the_rest(tmp_path):
    """Catches a plan that re-runs a finished (task, mode) or forgets one, read by field name, not position."""
    run(make_cfg(tmp_path, "task=Mini-T2V"), encoder_factory=FakeEncoder)
    cfg = make_cfg(tmp_path, "mode=both")
    specs = resolve_tasks(cfg.task)
    plan = plan_run(specs, RunContext.resolve(cfg, specs))
    assert isinstance(plan, ResumePlan) and all(isinstance(t, TaskPlan) for t in plan.todo)
    assert list(plan.done) == [("Mini-T2V", "disc")] and plan.failed == {}
    assert plan.done[("Mini-T2V", "disc")].status == "ok"
    assert [(t.spec.name, t.mode) for t in plan.todo] == [
        ("Mini-ImageCLS", "disc"), ("Mini-ImageCLS", "gen"), ("Mini-T2V", "gen"), ("Mini-VisDoc", "disc"),
        ("Mini-VisDoc", "gen")]
    t = plan.todo[0]
    assert t.out_dir == tmp_path / "out" / MODEL / "tasks" / "Mini-ImageCLS" / "disc"
    assert t.config_hash != plan.todo[1].config_hash and len(t.config_hash) == 16


# ---------------------------------------------------------------- role


class RoleRecorder(FakeEncoder):
    """Records the role of every item it is asked to embed: (task, mode, item id) -> roles."""

    seen: dict[tuple[str, str, str], set[str]] = {}

    def embed(self, items, *, task=None, role="query", advance=None):  # type: ignore[no-untyped-def]
        for it in items:
            self.seen.setdefault((str(task), "disc", it.id), set()).add(role)
        return super().embed(items, task=task, role=role, advance=advance)

    def generate_embed(self, items, *, role="query", **kw):  # type: ignore[no-untyped-def]
        for it in items:
            self.seen.setdefault((str(kw["task"]), "gen", it.id), set()).add(role)
        return super().generate_embed(items, role=role, **kw)


@pytest.mark.parametrize("shard", [None, "0/1"])
def test_role_reaches_the_encoder(tmp_path, shard):
    """Catches the memo dropping ``role`` (every item embedded as a query, the encoders' default) or swapping it,
    in disc and gen, in a plain run and in a shard's encode-only pass."""
    from umeval.loaders import load_task

    RoleRecorder.seen = {}
    cfg = make_cfg(tmp_path, "task=Mini-T2V", "mode=both", *([f"shard={shard}"] if shard else []))
    run(cfg, encoder_factory=RoleRecorder)
    (spec,) = resolve_tasks("Mini-T2V")
    data = load_task(spec, contexts(tmp_path, cfg)(spec))
    q_ids, c_ids = {it.id for it in data.queries}, {it.id for it in data.candidates}
    assert not q_ids & c_ids
    for mode in ("disc", "gen"):
        got = {i: roles for (task, m, i), roles in RoleRecorder.seen.items() if task == "Mini-T2V" and m == mode}
        assert set(got) == q_ids | c_ids, mode  # every item encoded once in each mode
        assert all(got[i] == {"query"} for i in q_ids), mode
        assert all(got[i] == {"candidate"} for i in c_ids), mode
