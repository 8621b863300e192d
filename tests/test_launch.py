"""The Ray launcher on real nodes (issue 19): shard resources, thread settings, encoders closed after each run."""

from __future__ import annotations

import pytest
from fakes import FakeEncoder

from umeval.core.config import compose_config
from umeval.core.errors import ConfigError, DataError
from umeval.run.launch import THREAD_VARS, shard_resources
from umeval.run.runner import run

H100_NODE = {"CPU": 96.0, "GPU": 8.0, "memory": 1.0e12}


def test_a_shard_gets_the_cores_of_its_gpus_and_threads_to_match():
    # Bug caught: num_cpus=1 per shard, so Ray set OMP_NUM_THREADS=1 and throttled preprocessing to one core.
    opts = shard_resources([H100_NODE], shards=8, environ={})
    assert (opts["num_cpus"], opts["num_gpus"]) == (12, 1)
    assert opts["runtime_env"]["env_vars"] == {v: "12" for v in THREAD_VARS}
    # The leanest GPU node decides (a shard must fit on any of them); CPU-only nodes do not count.
    opts = shard_resources([H100_NODE, {"CPU": 64.0, "GPU": 8.0}, {"CPU": 256.0}], shards=16, environ={})
    assert (opts["num_cpus"], opts["num_gpus"]) == (8, 1)


def test_tensor_parallel_shards_get_that_many_gpus():
    # Bug caught: one GPU per shard whatever tensor_parallel_size says (vLLM then cannot start the shard).
    opts = shard_resources([H100_NODE], shards=4, tensor_parallel=2, environ={})
    assert (opts["num_cpus"], opts["num_gpus"]) == (24, 2)
    with pytest.raises(ConfigError, match="tensor_parallel_size=16, but no node of the cluster has more than 8"):
        shard_resources([H100_NODE], shards=1, tensor_parallel=16, environ={})


def test_cpus_per_shard_setting_and_the_drivers_thread_settings_win():
    # Bug caught: the setting ignored, or a user's own OMP_NUM_THREADS overwritten by the default.
    opts = shard_resources([H100_NODE], shards=8, cpus_per_shard=4, environ={"OMP_NUM_THREADS": "6"})
    assert opts["num_cpus"] == 4
    assert opts["runtime_env"]["env_vars"]["OMP_NUM_THREADS"] == "6"
    assert opts["runtime_env"]["env_vars"]["MKL_NUM_THREADS"] == "4"
    with pytest.raises(ConfigError, match="cpus_per_shard=200, but the nodes that could run a shard have 96 CPUs"):
        shard_resources([H100_NODE], shards=8, cpus_per_shard=200, environ={})
    # A CPU-only cluster: the cores are split among the shards.
    assert shard_resources([{"CPU": 16.0}], shards=4, environ={})["num_cpus"] == 4


class Closing(FakeEncoder):
    closed = 0

    def close(self) -> None:
        type(self).closed += 1


class Failing(Closing):
    def embed(self, items, **kw):  # type: ignore[no-untyped-def]
        raise DataError("item unreadable (injected)", task="x")


@pytest.mark.parametrize("enc, fails", [(Closing, False), (Failing, True)])
def test_the_runner_closes_its_encoder_also_on_failure(tmp_path, enc, fails):
    # Bug caught (issue 19): the runner never closed its encoder, so a reused Ray worker could still hold 90 %
    # of a GPU when the next shard started, and a failed run kept the weights loaded.
    enc.closed = 0
    cfg = compose_config(["task=mini", "model=tiny-qwen2vl", "mode=disc", f"output_dir={tmp_path / 'out'}",
                          f"cache_dir={tmp_path / 'cache'}", "progress=false"])
    if fails:
        with pytest.raises(DataError, match="injected"):
            run(cfg, encoder_factory=enc)
    else:
        assert run(cfg, encoder_factory=enc).encoder_calls > 0
    assert enc.closed == 1


def test_ray_runs_a_shard_with_these_resources_and_threads():
    # Bug caught: options Ray does not honour (a task-level runtime_env replacing the job's environment instead
    # of adding to it, or the thread settings not reaching the worker process).
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}})
    try:
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        opts = shard_resources(nodes, shards=1, environ={})

        def probe() -> dict:
            import os

            return {"cpus": ray.get_runtime_context().get_assigned_resources().get("CPU"),
                    "env": {v: os.environ.get(v) for v in (*THREAD_VARS, "HF_HUB_OFFLINE")}}

        got = ray.get(ray.remote(**opts)(probe).remote())
    finally:
        ray.shutdown()
    assert opts["num_cpus"] == 2 and got["cpus"] == 2.0
    assert got["env"] == {**{v: "2" for v in THREAD_VARS}, "HF_HUB_OFFLINE": "1"}
