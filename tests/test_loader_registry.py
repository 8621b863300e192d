"""The loader registry and the fixture writers cover the same families (issue 15: a loader comes with its writer)."""

from __future__ import annotations

from umeval.fixtures import WRITERS
from umeval.registry import LOADERS, discover_tasks, load_object


def test_every_loader_has_a_fixture_writer_and_every_task_a_loader():
    # Catches a loader family added without its fixture writer (selftest and the loader tests would fail with a
    # KeyError on its tasks), a writer whose loader is gone, and a task naming an unregistered family.
    assert set(LOADERS) == set(WRITERS)
    assert {spec.family for _, spec in discover_tasks().items()} <= set(LOADERS)
    for _, ref in LOADERS.items():
        assert callable(load_object(ref)), ref
