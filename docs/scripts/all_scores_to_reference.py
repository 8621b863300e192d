"""Convert an official MMEB-V2 score file set into a umeval reference JSON (``kind: umeval-reference``).

Usage (``--git-dir`` is a clone of TIGER-AI-Lab/VLM2Vec; the files are read at ``--commit``)::

    python docs/scripts/all_scores_to_reference.py --git-dir <VLM2Vec .git> --commit 6e1e1d42... \
        --model VLM2Vec-V1-Qwen2VL-2B > umeval/models/vlm2vec/reference/VLM2Vec-V1-Qwen2VL-2B.json

The rule (the one the GME and LamRA references were written by): per task, the
``v2.1-baselines-visdoc-page-fixed`` file when it has the task (its page-level ViDoSeek/MMLongBench tasks were
scored on the fixed data and are keyed ``<task>-fixed``, as the official report exports them), else ``v2.0.1``.
Tasks are sorted by key; each keeps its modality, source file, ``hit@1`` and ``ndcg_linear@5``.
"""

from __future__ import annotations

import argparse
import json
import subprocess

ROOT = "experiments/public/all_scores"
FIXED, OLD = "v2.1-baselines-visdoc-page-fixed", "v2.0.1"
PAGE_FIXED = ("ViDoSeek-page", "MMLongBench-page")
METRICS = ("hit@1", "ndcg_linear@5")
RULE = (f"per task: {FIXED} when it has the task (the page-level ViDoSeek/MMLongBench tasks there were scored on "
        f"the fixed data and are keyed '<task>-fixed' here, as the official report exports them); else {OLD}")


def scores(git_dir: str, commit: str, path: str) -> dict[str, dict[str, dict[str, float]]]:
    """Modality -> task -> metrics of one official score file."""
    text = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"], check=True,
                          capture_output=True, text=True).stdout
    return json.loads(text)["metrics"]


def reference(git_dir: str, commit: str, model: str) -> dict:
    files = [f"{ROOT}/{FIXED}/{model}.json", f"{ROOT}/{OLD}/{model}.json"]
    tasks: dict[str, dict] = {}
    for i, path in enumerate(files):
        for modality, by_task in scores(git_dir, commit, path).items():
            for task, metrics in by_task.items():
                key = f"{task}-fixed" if i == 0 and task in PAGE_FIXED else task
                if key not in tasks and (i == 0 or task not in PAGE_FIXED):
                    tasks[key] = {"modality": modality, "file": path, **{m: metrics[m] for m in METRICS}}
    return {"kind": "umeval-reference", "version": 1, "model": model, "benchmark": "MMEB-V2",
            "source": {"repository": "TIGER-AI-Lab/VLM2Vec", "commit": commit, "files": files, "rule": RULE},
            "tasks": dict(sorted(tasks.items()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--git-dir", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--model", required=True, help="the score file's stem, e.g. VLM2Vec-V1-Qwen2VL-2B")
    args = ap.parse_args()
    print(json.dumps(reference(args.git_dir, args.commit, args.model), indent=1))


if __name__ == "__main__":
    main()
