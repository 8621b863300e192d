"""A wheel, installed without ``-e`` into a fresh virtual environment, carries its configs and runs the demo.

Catches: ``conf/`` missing from the wheel (``umeval list models`` empty, every ``model=`` unknown), ``CONF_DIR``
pointing at a source tree that a wheel install does not have, task plugins or label files left out of the
wheel, and the installed package importing anything from this checkout.

The fresh environment gets the third-party packages (torch, transformers, ...) of the running interpreter's
environment through a ``.pth`` line (nothing is downloaded); paths added that way are not site directories,
so their ``.pth`` files (the editable finder of a ``pip install -e`` there) do not run and ``umeval`` can only
come from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "umeval", "tasks", "conf")


def _sh(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} -> {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy, so that the build leaves no build/ or egg-info in the checkout
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name)
        else:
            shutil.copy2(ROOT / name, src / name)
    for junk in src.rglob("__pycache__"):
        shutil.rmtree(junk)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    _sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src,
        cwd=tmp, env=env)
    (wheel,) = (tmp / "dist").glob("umeval-*.whl")

    venv = tmp / "venv"
    _sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp, env=env)
    py = venv / "bin" / "python"
    site = Path(_sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp, env=env).strip())
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))  # this environment's packages
    (site / "zz_umeval_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    # `make install` adds a start-up hook for the CPU build (umeval/compat/torchvision_cpu.py); the same hook,
    # run after the line above, now imports the wheel's umeval.
    for hook in sorted(h for d in deps for h in Path(d).glob("zz_umeval_*.pth")):
        shutil.copy2(hook, site / f"zzz_{hook.name}")
    _sh(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel, cwd=tmp, env=env)
    env.update(UMEVAL_CACHE=str(tmp / "cache"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return py, env, tmp


def test_wheel_imports_from_its_environment_and_finds_its_configs(wheel_env):
    py, env, tmp = wheel_env
    out = json.loads(_sh(py, "-c", "import json, umeval, umeval_tasks, umeval.core.registry as r; print(json.dumps("
                                   "[umeval.__file__, umeval_tasks.__file__, str(r.CONF_DIR)]))", cwd=tmp, env=env))
    venv = str(py.parent.parent)
    assert all(p.startswith(venv) for p in out), out  # nothing from the checkout or the editable install
    assert out[2].endswith("umeval_conf")
    models = _sh(py, "-m", "umeval.cli", "list", "models", "--json", cwd=tmp, env=env)
    names = {m["name"] for m in json.loads(models)}
    assert {p.stem for p in (ROOT / "conf" / "model").glob("*.yaml")} <= names
    # The official sizes `umeval data status` compares with are package data (lost if package-data forgets them).
    sizes = _sh(py, "-c", "from umeval.data.official_sizes import official_sizes as o; print(len(o()), "
                "o()['MomentSeeker'].variants[1800][:5])", cwd=tmp, env=env)
    assert sizes.split() == ["78", "older"]


@pytest.mark.slow
def test_wheel_runs_the_demo(wheel_env):
    py, env, tmp = wheel_env
    out = _sh(py, "-m", "umeval.cli", "run", "task=mini", "model=tiny-qwen2vl", "mode=disc", "progress=false",
              f"output_dir={tmp / 'results'}", cwd=tmp, env=env, timeout=600)
    assert "(53 items encoded)" in out, out  # every item of the five mini tasks, once
    assert (tmp / "results" / "tiny-qwen2vl" / "leaderboard.parquet").is_file()
