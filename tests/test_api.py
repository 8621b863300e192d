"""``umeval.evaluate``: the Python API runs the code of ``umeval run`` and returns the leaderboard and TaskResults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import umeval
from umeval.core.errors import ConfigError
from umeval.run.api import Results, to_overrides

#: The oracle on the ImageNet-1K fixture (6 queries, one relevant label each): a perfect ranking.  By hand:
#: precision@k = 1/k, recall@k = 1, f1@k = 2 (1/k) / (1/k + 1) = 2 / (k + 1); every other metric 1.
EXPECTED = {f"{m}@{k}": 1.0 for m in ("hit", "mrr", "map", "ndcg_linear", "ndcg_exponential", "recall")
            for k in (1, 5, 10)} | {"precision@1": 1.0, "precision@5": 0.2, "precision@10": 0.1,
                                     "f1@1": 1.0, "f1@5": 2 / 6, "f1@10": 2 / 11}


def settings(tmp: Path, root: Path) -> dict[str, object]:
    return {"data_root": root, "output_dir": tmp / "out", "cache_dir": tmp / "cache", "hub": False, "progress": False}


def test_evaluate_returns_the_exact_scores_and_task_results(tmp_path, imagenet_root):
    """Catches an API that scores other rows than the CLI, drops a setting (data_root, output_dir), or hands back
    rows that are not the task's result (every metric is pinned to its hand-computed value)."""
    r = umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], **settings(tmp_path, imagenet_root))
    assert isinstance(r, Results) and r.model == "oracle" and r.failed == []
    lb = r.leaderboard
    task = lb[lb.level == "task"]
    assert set(task.task) == {"ImageNet-1K"} and set(task["mode"]) == {"disc"}
    got = dict(zip(task.metric, task.value))
    assert got.keys() == EXPECTED.keys()
    for m, v in EXPECTED.items():
        assert got[m] == pytest.approx(v, abs=1e-12), m
    assert lb[lb.level == "overall"].value.tolist() == [1.0]
    assert (task.n_queries == 6).all() and (task.n_tied == 0).all()
    res = r["ImageNet-1K"]
    assert res.metrics["hit@1"] == 1.0 and res.n_queries == 6 and res.status == "ok"
    assert r.task("ImageNet-1K", "disc") is res
    assert r.main_scores().to_dict("records") == [
        {"task": "ImageNet-1K", "mode": "disc", "metric": "hit@1", "value": 1.0, "status": "ok"}]
    on_disk = pd.read_parquet(tmp_path / "out" / "oracle" / "leaderboard.parquet")
    assert on_disk.value.tolist() == lb.value.tolist()
    with pytest.raises(KeyError, match="ImageNet-1K"):
        r["ImageNet-1k"]  # a near miss names the close one


def test_cli_run_and_api_give_the_same_leaderboard(tmp_path, imagenet_root):
    """Catches the CLI and the API drifting apart (the CLI is the API plus printing)."""
    from umeval.cli import main

    api = umeval.evaluate(model="oracle", tasks="ImageNet-1K", **settings(tmp_path / "a", imagenet_root))
    code = main(["run", "model=oracle", "task=ImageNet-1K", f"data_root={imagenet_root}",
                 f"output_dir={tmp_path / 'b' / 'out'}", f"cache_dir={tmp_path / 'b' / 'cache'}", "hub=false",
                 "progress=false"])
    assert code == 0
    cli = pd.read_parquet(tmp_path / "b" / "out" / "oracle" / "leaderboard.parquet")
    cols = ["level", "name", "metric", "value", "n_queries", "config_hash"]
    pd.testing.assert_frame_equal(cli[cols], pd.read_parquet(api.model_dir / "leaderboard.parquet")[cols])
    assert api.leaderboard.value.tolist() == cli.value.tolist()


def test_settings_become_hydra_overrides_that_keep_their_types():
    """Catches a string value with a comma, '=' or space split or rejected by Hydra (an unquoted path), a nested
    dict not reaching its key, and None/bool written the Python way."""
    from umeval.core.config import compose_config

    ov = to_overrides("oracle", ["ImageNet-1K", "MSR-VTT"],
                      {"data_root": Path("/data/a b,c=d"), "gen": {"samples": 3, "seed": 2}, "limit": None,
                       "keep_going": True, "scorer.k": 20}, overrides=["batch_size=4"])
    cfg = compose_config(ov)
    assert cfg.data_root == "/data/a b,c=d" and list(cfg.task) == ["ImageNet-1K", "MSR-VTT"]
    assert cfg.gen.samples == 3 and cfg.gen.seed == 2 and cfg.limit is None and cfg.keep_going is True
    assert cfg.scorer.k == 20 and cfg.batch_size == 4 and cfg.model.name == "oracle"
    with pytest.raises(ConfigError, match="tasks="):
        to_overrides("oracle", None, {"task": "mini"})
    with pytest.raises(ConfigError, match="unknown setting 'bacth_size'"):
        umeval.evaluate(model="oracle", tasks="mini", bacth_size=2)


def test_import_is_cheap_and_the_issue_one_liner_works(tmp_path, imagenet_root):
    """The example of the README and of issue 23, as a user types it.  Catches ``import umeval`` importing the
    pipeline (torch, pandas) eagerly, and the lazy ``umeval.evaluate`` not resolving."""
    env = {**os.environ, "UMEVAL_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    probe = "import sys, umeval; print(sorted(m for m in ('torch', 'pandas', 'omegaconf') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
    one_liner = (f"import umeval; r = umeval.evaluate(model='oracle', tasks=['ImageNet-1K'], "
                 f"data_root={str(imagenet_root)!r}, progress=False); print(r.leaderboard)")
    r = subprocess.run([sys.executable, "-c", one_liner], capture_output=True, text=True, env=env, cwd=tmp_path,
                       check=False, timeout=600)
    assert r.returncode == 0, r.stderr
    board = tmp_path / "results" / "oracle" / "leaderboard.parquet"  # output_dir's default, results/
    assert board.exists()
    import pandas as pd

    # what is printed is the whole leaderboard file (27 rows: one task's metrics and roll-ups)
    width = len(pd.read_parquet(board).columns)
    assert "ImageNet-1K" in r.stdout and f"[27 rows x {width} columns]" in r.stdout


def test_gen_mode_with_an_encoder_that_has_none_is_a_one_line_error(tmp_path, imagenet_root):
    """Catches the generative path calling ``generate_embed`` on an encoder without it (an AttributeError
    traceback from deep in the memo); the call now goes through a type guard that mypy checks."""
    from umeval.encoders.oracle import OracleEncoder

    class DiscOnly:  # an encoder_factory's encoder with no generative mode
        def __init__(self, model_cfg, **kw):
            self.inner = OracleEncoder(model_cfg, **kw)

        def embed(self, *args, **kwargs):
            return self.inner.embed(*args, **kwargs)

    with pytest.raises(ConfigError, match="DiscOnly has no generative mode"):
        umeval.evaluate(model="oracle", tasks=["ImageNet-1K"], mode="gen", encoder_factory=DiscOnly,
                        **settings(tmp_path, imagenet_root))
