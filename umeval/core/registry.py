"""One registry for tasks and models, and the :class:`Registry` the loader registry uses too.

Names map to objects (task specs) or to lazy ``"module:attr"`` strings (encoders), so listing never imports
torch; the loader registry lives with the loaders (:mod:`umeval.loaders.registry`), each loader module
registering its own families.  Registering a name twice raises; a miss suggests close names.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

from omegaconf import OmegaConf

from umeval.core.errors import ConfigError
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


def _folded(name: str) -> str:
    """Lower case, letters and digits only: ``msrvtt`` and ``MSR-VTT`` fold to the same key."""
    return "".join(c for c in name.lower() if c.isalnum())


def suggest(name: str, known: Iterable[str]) -> str:
    known = list(known)
    same = [k for k in known if _folded(k) == _folded(name)]  # differs only in case or punctuation
    close = same[:3] or difflib.get_close_matches(name, known, n=3, cutoff=0.7)
    if not close:
        folded = {_folded(k): k for k in known}
        close = [folded[k] for k in difflib.get_close_matches(_folded(name), list(folded), n=3, cutoff=0.75)]
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [v for k, v in lowered.items() if name.lower() in k][:3]
    return f"did you mean {', '.join(close)}?" if close else ""


class Registry(Generic[T]):
    def __init__(self, kind: str, listing: str | None = None) -> None:
        self.kind = kind
        self.listing = listing or f"umeval list {kind}s"  # the command that lists the names
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T) -> T:
        if name in self._items:
            raise ConfigError(f"{self.kind} '{name}' is registered twice", "give one of them another name")
        self._items[name] = obj
        return obj

    def unregister(self, name: str) -> None:
        """Remove ``name`` if registered (a test that registers a plugin of its own undoes it with this)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            hint = suggest(name, self._items)
            raise ConfigError(
                f"unknown {self.kind} '{name}'",
                (hint + " " if hint else "") + f"see `{self.listing}`",
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> Iterable[tuple[str, T]]:
        return self._items.items()


def load_object(ref: str) -> Any:
    """Import ``"package.module:attr"``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


# ---------------------------------------------------------------- tasks

TASKS: Registry[TaskSpec] = Registry("task")
_TASK_PACKAGES = ["umeval_tasks"]  # the top-level tasks/ folder, installed under this name


#: Other names that select a task (alias -> task name), e.g. the name the official report script exports.
TASK_ALIASES: dict[str, str] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
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


def import_plugins(packages: Iterable[str], group: str, *, packages_only: bool = False) -> None:
    """Import every module below each of ``packages`` and every entry point of ``group``: plugin discovery.

    Tasks, loaders and model families are found this way; their modules register themselves when imported.
    ``packages_only``: import only the sub-packages (one package per model family), not plain modules.
    """
    for pkg_name in packages:
        pkg = importlib.import_module(pkg_name)
        for mod in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + "."):
            if mod.ispkg or not packages_only:
                importlib.import_module(mod.name)
    for ep in entry_points(group=group):
        ep.load()


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
