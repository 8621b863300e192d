"""``umeval launch shards=N key=value ...``: run N shards as Ray tasks, then the merge step.

Each shard is an ordinary ``umeval run ... shard=i/N`` in its own worker process.  Its resources come from
:func:`shard_resources`: as many GPUs as the model's ``tensor_parallel_size`` (``model.vllm_args``) when the
cluster has GPUs, and by default a node's cores divided by its GPUs for each of them (``cpus_per_shard=K``
overrides), with ``OMP_NUM_THREADS`` and the other thread settings set to that many (Ray would otherwise
leave a shard with one CPU and one thread for its preprocessing).  Ray places shards on free GPUs of any node
that shares the output and cache folders; each shard closes its encoder when it ends, so a reused worker
hands a free GPU to the next one.  When every shard is done, the driver runs the same command without
``shard=``: every embedding is then in the store and the merge only ranks and scores.  Without a running
cluster, ``ray.init`` starts a local one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from umeval.core.errors import ConfigError, DependencyError, UmevalError

#: Thread pools sized from the environment: OpenMP (torch's intra-op threads), MKL, OpenBLAS, numexpr.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_MAX_THREADS")


def shard_resources(nodes: Sequence[Mapping[str, float]], shards: int, tensor_parallel: int = 1,
                    cpus_per_shard: int | None = None,
                    environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Ray task options of one shard: ``num_cpus``, ``num_gpus`` and the thread settings in ``runtime_env``.

    ``nodes`` are the alive nodes' resources (``ray.nodes()[i]["Resources"]``).  With GPUs, a shard takes
    ``tensor_parallel`` GPUs and, by default, the cores per GPU of the leanest GPU node times that; without
    GPUs the largest node's cores are split among the shards.  Thread variables already set in ``environ``
    (the driver's) are passed on as they are, the others set to the shard's CPUs.
    """
    environ = os.environ if environ is None else environ
    gpu_nodes = [n for n in nodes if n.get("GPU", 0) >= 1]
    if gpu_nodes:
        most = max(int(n["GPU"]) for n in gpu_nodes)
        if tensor_parallel > most:
            raise ConfigError(f"tensor_parallel_size={tensor_parallel}, but no node of the cluster has more than "
                              f"{most} GPUs", f"use model.vllm_args.tensor_parallel_size<={most}")
        per_gpu = min(max(1, int(n.get("CPU", 1) // n["GPU"])) for n in gpu_nodes)
        gpus, default = tensor_parallel, per_gpu * tensor_parallel
    else:
        gpus, default = 0, max(1, int(max((n.get("CPU", 1) for n in nodes), default=1)) // max(1, shards))
    cpus = int(cpus_per_shard or default)
    most_cpus = int(max((n.get("CPU", 0) for n in (gpu_nodes or nodes)), default=0))
    if cpus < 1 or cpus > most_cpus:
        raise ConfigError(f"cpus_per_shard={cpus}, but the nodes that could run a shard have {most_cpus} CPUs",
                          f"pass cpus_per_shard between 1 and {most_cpus}")
    env = {v: environ.get(v) or str(cpus) for v in THREAD_VARS}
    return {"num_cpus": cpus, "num_gpus": gpus, "runtime_env": {"env_vars": env}}


def _run_shard(overrides: list[str]) -> dict[str, Any]:
    from umeval.core.config import compose_config
    from umeval.run.api import evaluate_config

    results = evaluate_config(compose_config(overrides), command="launch-shard")
    return {"shard": overrides[-1], "encoder_calls": results.encoder_calls}


def launch(overrides: list[str], shards: int, address: str | None = None,
           cpus_per_shard: int | None = None) -> tuple[list[dict[str, Any]], Any]:
    try:
        import ray
    except ImportError:
        raise DependencyError("the Ray launcher needs ray", "pip install 'umeval[ray]' (or pip install ray)") from None
    from umeval.core.config import compose_config
    from umeval.run.api import evaluate_config
    from umeval.run.runtime import resolve_backend, resolve_device

    cfg = compose_config(overrides)  # bad settings fail here, before any cluster starts
    resolve_device(str(cfg.device), resolve_backend(cfg))  # and a GPU torch cannot use (umeval.run.nvidia)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    tp = int(cfg.model.vllm_args.get("tensor_parallel_size") or 1)
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    options = shard_resources(nodes, shards, tp, cpus_per_shard)
    remote = ray.remote(max_retries=2, **options)(_run_shard)
    futures = [remote.remote([*overrides, "progress=false", f"shard={i}/{shards}"]) for i in range(shards)]
    try:
        reports = ray.get(futures)
    except ray.exceptions.RayTaskError as e:
        cause = e.as_instanceof_cause()
        if isinstance(cause, UmevalError):
            raise UmevalError(str(cause)) from None
        raise
    return reports, evaluate_config(compose_config(overrides), command="launch")


def main(argv: list[str]) -> int:
    from umeval.commands.help import console, launch_help, wants_help
    from umeval.results.summary import failed_exit, print_sampling, print_summary

    if wants_help(argv):
        print(launch_help())
        return 0
    shards, address, cpus, rest = 0, None, None, []
    for a in argv:
        if a.startswith("shards="):
            shards = int(a.split("=", 1)[1])
        elif a.startswith("address="):
            address = a.split("=", 1)[1]
        elif a.startswith("cpus_per_shard="):
            cpus = int(a.split("=", 1)[1])
        else:
            rest.append(a)
    if shards < 1:
        raise UmevalError("umeval launch needs shards=N", "e.g. `umeval launch shards=4 task=all model=ume-r1-7b`")
    reports, summary = launch(rest, shards, address, cpus)
    for r in reports:
        print(f"{r['shard']}: {r['encoder_calls']} items encoded")
    print_summary(summary.leaderboard, console())
    print_sampling(summary.leaderboard, console())
    print(f"merge: {summary.encoder_calls} items encoded; results in {summary.model_dir}")
    return failed_exit(summary.failed)
