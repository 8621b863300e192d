"""``umeval launch shards=N key=value ...``: run N shards as Ray tasks, then the merge step.

Each shard is an ordinary single-device ``umeval run ... shard=i/N`` in its own worker process, with one GPU
as its resource when the cluster has GPUs, so Ray places shards on free GPUs of any node that shares the
output and cache folders.  When every shard is done, the driver runs the same command without ``shard=``:
every embedding is then in the store and the merge only ranks and scores.  Without a running cluster,
``ray.init`` starts a local one.
"""

from __future__ import annotations

from typing import Any

from umeval.core.errors import DependencyError, UmevalError


def _run_shard(overrides: list[str]) -> dict[str, Any]:
    from umeval.core.config import compose_config
    from umeval.run.api import evaluate_config

    results = evaluate_config(compose_config(overrides), command="launch-shard")
    return {"shard": overrides[-1], "encoder_calls": results.encoder_calls}


def launch(overrides: list[str], shards: int, address: str | None = None) -> tuple[list[dict[str, Any]], Any]:
    try:
        import ray
    except ImportError:
        raise DependencyError("the Ray launcher needs ray", "pip install 'umeval[ray]' (or pip install ray)") from None
    from umeval.core.config import compose_config
    from umeval.run.api import evaluate_config

    compose_config(overrides)  # bad settings fail here, before any cluster starts
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    remote = ray.remote(num_gpus=gpus, num_cpus=1, max_retries=2)(_run_shard)
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
    shards, address, rest = 0, None, []
    for a in argv:
        if a.startswith("shards="):
            shards = int(a.split("=", 1)[1])
        elif a.startswith("address="):
            address = a.split("=", 1)[1]
        else:
            rest.append(a)
    if shards < 1:
        raise UmevalError("umeval launch needs shards=N", "e.g. `umeval launch shards=4 task=all model=ume-r1-7b`")
    reports, summary = launch(rest, shards, address)
    for r in reports:
        print(f"{r['shard']}: {r['encoder_calls']} items encoded")
    print_summary(summary.leaderboard, console())
    print_sampling(summary.leaderboard, console())
    print(f"merge: {summary.encoder_calls} items encoded; results in {summary.model_dir}")
    return failed_exit(summary.failed)
