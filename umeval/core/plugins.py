"""Plugin machinery shared by every registry.

A name -> object registry with did-you-mean errors, lazy ``"module:attr"`` references, and discovery of plugin
modules (packages and entry points).

Tasks (:mod:`umeval.core.registry`), loaders (:mod:`umeval.loaders.registry`) and model families
(:mod:`umeval.models.family`) are registries of this kind; this module imports none of them.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from umeval.core.errors import ConfigError

T = TypeVar("T")


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
