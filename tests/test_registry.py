import json

import pytest

from umeval.cli import main
from umeval.core.errors import ConfigError
from umeval.core.plugins import Registry
from umeval.core.registry import resolve_tasks, task_groups


def test_mini_group_and_globs():
    assert [s.name for s in resolve_tasks("mini")] == ["Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc"]
    assert [s.name for s in resolve_tasks("Mini-V*")] == ["Mini-VisDoc"]
    assert [s.name for s in resolve_tasks(["Mini-T2V", "Mini-ImageCLS", "Mini-T2V"])] == ["Mini-ImageCLS", "Mini-T2V"]


def test_unknown_task_suggests_close_names():
    with pytest.raises(ConfigError) as e:
        resolve_tasks("Mini-T2W")
    assert "unknown task or group 'Mini-T2W'" in str(e.value)
    assert "Mini-T2V" in str(e.value)
    with pytest.raises(ConfigError, match="matches no task"):
        resolve_tasks("Nothing*")


def test_duplicate_registration_raises():
    reg: Registry[int] = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ConfigError, match="registered twice"):
        reg.register("a", 2)


def test_mini_tasks_are_not_in_all():
    assert not set(task_groups()["all"]) & set(task_groups()["mini"])


def test_list_tasks_json(capsys):
    assert main(["list", "tasks", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["Mini-VisDoc"]["main_metric"] == "ndcg_linear@5"
    assert rows["Mini-VisDoc"]["pool"] == "global"
    assert rows["Mini-ImageCLS"]["pool"] == "local"
    assert rows["Mini-T2V"]["modality"] == "video"


def test_list_models_json(capsys):
    assert main(["list", "models", "--json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)]
    assert {"tiny-qwen2vl", "ume-r1-2b", "ume-r1-7b", "vlm2vec-v2"} <= set(names)
