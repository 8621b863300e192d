"""The GPU locks agree with the pins they were resolved from and with pyproject's requirements (issue 19).

``make lock-gpu`` resolves ``requirements-gpu.txt`` (CUDA 13) and ``requirements-gpu-cu12.txt`` (CUDA 12) with
the extras ``gpu`` and ``dev`` of pyproject.toml into ``*.lock``; ``make install-gpu`` installs from the lock.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from umeval.run.nvidia import INSTALL_SETS

ROOT = Path(__file__).resolve().parents[1]
SETS = ("requirements-gpu", "requirements-gpu-cu12")
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)")


def pins(path: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line (comments and blank lines skipped)."""
    out = {}
    for line in path.read_text().splitlines():
        m = _PIN.match(line.strip())
        if m:
            out[canonicalize_name(m.group(1))] = m.group(2)
    return out


@pytest.mark.parametrize("name", SETS)
def test_every_pin_is_in_the_lock_at_its_version(name):
    # Bug caught: a pin in the .txt bumped (or added) without `make lock-gpu`, so the install (which uses the
    # lock) would not get what the .txt promises.
    want, got = pins(ROOT / f"{name}.txt"), pins(ROOT / f"{name}.lock")
    assert want, f"{name}.txt has no pins"
    assert {n: (v, got.get(n)) for n, v in want.items() if got.get(n) != v} == {}
    header = (ROOT / f"{name}.lock").read_text().splitlines()[1]
    assert f"--extra gpu --extra dev -c {name}.txt" in header and "--python-platform x86_64-manylinux" in header


@pytest.mark.parametrize("name", SETS)
def test_the_lock_satisfies_pyproject(name):
    # Bug caught: a requirement of pyproject.toml (base, gpu or dev extra) raised or added without re-locking,
    # so the locked set would conflict with the package it installs or leave a dependency unpinned.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in
            project["dependencies"] + project["optional-dependencies"]["gpu"] + project["optional-dependencies"]["dev"]]
    got = pins(ROOT / f"{name}.lock")
    env = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
           "platform_machine": "x86_64", "platform_system": "Linux", "extra": ""}
    bad = {str(r): got.get(canonicalize_name(r.name)) for r in reqs
           if (r.marker is None or r.marker.evaluate(env))
           and not (canonicalize_name(r.name) in got and r.specifier.contains(got[canonicalize_name(r.name)],
                                                                               prereleases=True))}
    assert bad == {}


@pytest.mark.parametrize("cuda", sorted(INSTALL_SETS))
def test_each_set_is_the_cuda_build_it_claims(cuda):
    # Bug caught: the CUDA 12 set resolving to a CUDA 13 torch (a vLLM whose torch moved on), which would give
    # the drivers < 580 it is for the very failure it exists to avoid; or umeval.run.nvidia naming the wrong
    # runtime in its messages.
    name, runtime = INSTALL_SETS[cuda]
    got = pins(ROOT / name.replace(".txt", ".lock"))
    major, minor = (int(p) for p in runtime.split("."))
    if cuda == 13:
        cuda_pkg = Version(got["cuda-toolkit"])
        assert "nvidia-cuda-runtime-cu12" not in got
    else:
        cuda_pkg = Version(got["nvidia-cuda-runtime-cu12"])
        assert "cuda-toolkit" not in got
    assert (cuda_pkg.major, cuda_pkg.minor) == (major, minor)
