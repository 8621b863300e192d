"""The registry of tasks and model presets (the generic machinery is :mod:`umeval.core.plugins`).

Names map to objects (task specs) or to lazy ``"module:attr"`` strings (encoders), so listing never imports
torch; the loader registry lives with the loaders (:mod:`umeval.loaders.registry`), each loader module
registering its own families.  Registering a name twice raises; a miss suggests close names.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf

from umeval.core.errors import ConfigError
from umeval.core.plugins import Registry, import_plugins, suggest
from umeval.core.spec import TaskSpec

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]


def _conf_dir() -> Path:
    """The folder of ``config.yaml`` and ``model/*.yaml``: the checkout's ``conf/``, else the installed package.

    A source checkout (``pyproject.toml`` beside the ``umeval`` folder) reads its own ``conf/``, even when a
    ``umeval_conf`` of another checkout is installed in the same environment; a wheel installs ``conf/`` as the
    package ``umeval_conf`` (pyproject ``package-dir``), found through importlib.resources.
    """
    source = REPO_ROOT / "conf"
    if (REPO_ROOT / "pyproject.toml").is_file() and (source / "config.yaml").is_file():
        return source
    try:
        installed = Path(str(resources.files("umeval_conf")))
    except ModuleNotFoundError:
        return source  # neither: model_names() is empty and compose_config names the missing folder
    return installed


CONF_DIR = _conf_dir()


TASKS: Registry[TaskSpec] = Registry("task")
_TASK_PACKAGES = ["umeval_tasks"]  # the top-level tasks/ folder, installed under this name


#: Other names that select a task (alias -> task name), e.g. the name the official report script exports.
TASK_ALIASES: dict[str, str] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
    """Register ``spec``; its options are checked against what its loader declares (a typo fails here)."""
    from umeval.loaders.registry import check_task_options  # lazy: the loader registry imports this module

    check_task_options(spec)
    if spec.name in TASK_ALIASES:
        raise ConfigError(f"task '{spec.name}' is already an alias of '{TASK_ALIASES[spec.name]}'",
                          "give one of them another name")
    for alias in spec.aliases:
        if alias in TASK_ALIASES or alias in TASKS or alias == spec.name:
            raise ConfigError(f"task alias '{alias}' of '{spec.name}' is already a task name or alias",
                              "give the alias another name")
    TASKS.register(spec.name, spec)
    TASK_ALIASES.update({alias: spec.name for alias in spec.aliases})
    return spec


def register_tasks(specs: Iterable[TaskSpec]) -> None:
    for s in specs:
        register_task(s)


@cache
def discover_tasks() -> Registry[TaskSpec]:
    """Import every module of the task packages and of the ``umeval.tasks`` entry point group."""
    import_plugins(_TASK_PACKAGES, "umeval.tasks")
    return TASKS


def task_groups() -> dict[str, list[str]]:
    """Named groups: ``all`` (the MMEB-V2 benchmark), each modality, each meta-category, and spec groups."""
    reg = discover_tasks()
    groups: dict[str, list[str]] = {"all": []}
    for name, spec in reg.items():
        keys = list(spec.groups)
        if spec.benchmark == "MMEB-V2":
            keys += ["all", spec.modality, spec.meta]
        for key in keys:
            groups.setdefault(key, []).append(name)
    return groups


def resolve_tasks(selector: str | list[str] | tuple[str, ...]) -> list[TaskSpec]:
    """Resolve task names, group names and globs (``ViDoRe_*``) to specs, in registry order, no repeats."""
    reg = discover_tasks()
    groups = task_groups()
    wanted = [selector] if isinstance(selector, str) else list(selector)
    if not wanted:
        raise ConfigError("no task selected", "pass task=<name|group|glob>, e.g. task=mini")
    chosen: set[str] = set()
    for sel in wanted:
        sel = str(sel).strip()
        if sel in groups:
            chosen.update(groups[sel])
        elif sel in reg:
            chosen.add(sel)
        elif sel in TASK_ALIASES:
            chosen.add(TASK_ALIASES[sel])
        elif any(c in sel for c in "*?["):
            hits = fnmatch.filter(list(reg), sel)
            if not hits:
                raise ConfigError(f"task pattern '{sel}' matches no task", "see `umeval list tasks`")
            chosen.update(hits)
        else:
            hint = suggest(sel, [*reg, *groups, *TASK_ALIASES])
            raise ConfigError(
                f"unknown task or group '{sel}'", (hint + " " if hint else "") + "see `umeval list tasks`"
            )
    return [spec for name, spec in reg.items() if name in chosen]


# ---------------------------------------------------------------- models

def model_names() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))


def model_config(name: str) -> dict[str, Any]:
    """The model's YAML as a plain dict (no torch import)."""
    names = model_names()
    if name not in names:
        hint = suggest(name, names)
        raise ConfigError(f"unknown model '{name}'", (hint + " " if hint else "") + "see `umeval list models`")
    cfg = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml"), resolve=True)
    assert isinstance(cfg, dict)
    return {str(k): v for k, v in cfg.items()}
