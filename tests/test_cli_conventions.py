"""CLI conventions: --version, --help of every command (run's generated from the schema), --cfg, closed
pipes, untruncated tables off a terminal, the shard run's last line, did-you-mean for nested keys and case."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from umeval import cli
from umeval.commands.help import schema_fields

PY = [sys.executable, "-m", "umeval.cli"]


def umeval(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PY, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_version():
    import umeval as pkg

    r = umeval("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"umeval {pkg.__version__}"


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_command_has_help(command):
    """Catches a subcommand whose --help is parsed as a setting or needs a cluster (run, launch did)."""
    r = umeval(command, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: umeval " + command) or r.stdout.startswith(f"usage: umeval {command}")
    assert "Traceback" not in r.stderr


def test_run_help_lists_every_setting_with_its_meaning():
    """Generated from RunConfig: a new field appears with its default; one without a meaning fails here."""
    r = umeval("run", "--help")
    assert r.returncode == 0
    for key, _, meaning, group in schema_fields():
        assert meaning, f"setting {key} has no meaning: add a trailing comment in config.py or MEANING"
        if not group:
            assert f"  {key}=" in r.stdout, key
    assert "  gen.samples=1 " in r.stdout and "  store_dtype=float32 " in r.stdout
    assert "  model=tiny-qwen2vl " in r.stdout and "  model.decoding.max_new_tokens=24 " in r.stdout


def test_cfg_prints_the_resolved_config_and_runs_nothing(tmp_path):
    r = umeval("run", "--cfg", "job", "batch_size=3", "model=ume-r1-2b", f"output_dir={tmp_path}/o")
    assert r.returncode == 0, r.stderr
    assert "batch_size: 3\n" in r.stdout and "  path: zhibinlan/UME-R1-2B\n" in r.stdout
    assert not (tmp_path / "o").exists()
    # Issue 19: `umeval estimate`'s figures, as YAML comments (catches the cost left out of the config print).
    assert "# estimate for ume-r1-2b on one NVIDIA H100" in r.stdout and "\n# total " in r.stdout


def test_closed_pipe_exits_quietly():
    """`umeval list tasks --json | head -1`: the reader is gone before we write; no BrokenPipeError trace."""
    p = subprocess.Popen([*PY, "list", "tasks", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0
    assert err == ""


def test_tables_are_not_cut_off_a_terminal():
    """Catches rich's default of 80 columns with ellipses ("ViDoRe_synt...") when stdout is a file or pipe."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    r = subprocess.run([*PY, "list", "tasks"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0
    assert "ViDoRe_syntheticDocQA_government_reports" in r.stdout and "…" not in r.stdout
    # An inherited COLUMNS (CI runners set one) does not narrow a table that goes to a file.
    r = subprocess.run([*PY, "list", "tasks"], capture_output=True, text=True, env={**env, "COLUMNS": "60"})
    assert r.returncode == 0 and "ViDoRe_syntheticDocQA_government_reports" in r.stdout and "…" not in r.stdout


def test_shard_run_ends_with_the_merge_command(monkeypatch, capsys, tmp_path):
    """Catches a shard run that ends with "results: .../leaderboard.parquet" although it wrote none."""
    import umeval.run.api

    monkeypatch.setattr(umeval.run.api, "evaluate_config",
                        lambda cfg, **kw: SimpleNamespace(encoder_calls=7, leaderboard=None))
    assert cli.main(["run", "task=mini", "shard=1/4", f"output_dir={tmp_path}"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (f"shard 1/4 done (7 items encoded; no leaderboard yet). When every shard is done, merge them "
                    f"with: umeval run task=mini output_dir={tmp_path}")


@pytest.mark.parametrize("arg, hint", [
    ("task=msrvtt", "did you mean MSR-VTT?"),
    ("task=vidore_ARXIVQA", "did you mean ViDoRe_arxivqa?"),
    ("model.decodng.do_sample=true", "unknown setting 'model.decodng.do_sample'; valid settings of model: "),
    ("model.decodng.do_sample=true", "did you mean decoding?"),
    ("model.decoding.do_smaple=true", "did you mean do_sample?"),
])
def test_did_you_mean(arg, hint, capsys):
    """Nested keys are checked part by part (a typo in the middle used to list no valid settings at all)."""
    assert cli.main(["run", arg]) == 2
    err = capsys.readouterr().err
    assert hint in err and err.count("\n") == 1
