"""The loader registry: one :class:`LoaderEntry` per data family, registered by the loader module itself.

A loader module calls :func:`register_loader` for each family it reads, naming three functions by lazy
``"module:function"`` reference (nothing is imported until a task of that family is used):

- ``load(spec, ctx) -> TaskData``: read the task's rows and media;
- ``fixture(spec, root, rng, **kw) -> list[int]``: write a tiny copy of the task's data in the official on-disk
  layout (used by the embedded default, ``umeval selftest`` and the tests) and return each query's number of
  relevant candidates;
- ``probe(spec, ctx) -> None``: a cheap check, before any weights load, that the task's data can be found;
  raises :class:`~umeval.core.errors.DataError` with the one-line fix.  ``None``: the default probe
  (:func:`umeval.loaders.probe_rows` on the spec's own subset).

:func:`discover_loaders` imports every module of the ``umeval.loaders`` package and of the ``umeval.loaders``
entry-point group (third-party loaders), so adding a loader is one module; no table elsewhere to edit.
Importing this module imports no loader module (and never torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from umeval.core.errors import ConfigError
from umeval.core.registry import Registry, import_plugins, load_object, suggest

if TYPE_CHECKING:
    import numpy as np

    from umeval.core.spec import TaskSpec
    from umeval.core.types import TaskData

# Nothing here imports umeval.loaders (the package imports this module to dispatch): a ``ctx`` is a
# umeval.loaders.LoadContext, typed Any here.
ENTRY_POINT_GROUP = "umeval.loaders"
_PACKAGE = __name__.rpartition(".")[0]  # umeval.loaders


def _check_ref(family: str, field: str, ref: str) -> None:
    module, sep, attr = ref.partition(":") if isinstance(ref, str) else ("", "", "")
    if not (sep and module and attr.isidentifier() and all(p.isidentifier() for p in module.split("."))):
        raise ConfigError(f"loader '{family}': {field}={ref!r} is not a 'package.module:function' reference",
                          f"pass {field} as e.g. 'mypkg.loader:{field}'")


@dataclass(frozen=True)
class LoaderEntry:
    """One data family: how to load it, write its fixture and probe for its data (lazy references)."""

    family: str
    load: str
    fixture: str
    probe: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        for field in ("load", "fixture", "probe"):
            ref = getattr(self, field)
            if not (field == "probe" and ref is None):
                _check_ref(self.family, field, ref)

    def load_fn(self) -> Callable[[TaskSpec, Any], TaskData]:
        return self._resolve("load", self.load)

    def fixture_fn(self) -> Callable[..., list[int]]:
        return self._resolve("fixture", self.fixture)

    def probe_fn(self) -> Callable[[TaskSpec, Any], None] | None:
        """The registered probe, or None: the dispatcher (:func:`umeval.loaders.preflight`) uses its default."""
        return None if self.probe is None else self._resolve("probe", self.probe)

    def _resolve(self, field: str, ref: str) -> Any:
        try:
            fn = load_object(ref)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"loader '{self.family}': cannot import its {field} {ref} ({type(e).__name__}: {e})",
                              "fix the reference in its register_loader call") from None
        if not callable(fn):
            raise ConfigError(f"loader '{self.family}': its {field} {ref} is not callable",
                              "point the reference at a function")
        return fn

    def write_fixture(self, spec: TaskSpec, root: Path, rng: np.random.Generator, **kw: Any) -> list[int]:
        return list(self.fixture_fn()(spec, root, rng, **kw))


LOADERS: Registry[LoaderEntry] = Registry("loader")


def register_loader(family: str, *, load: str, fixture: str, probe: str | None = None,
                    description: str = "") -> LoaderEntry:
    """Register the loader of ``family`` (each loader module calls this for its own families, at import)."""
    return LOADERS.register(family, LoaderEntry(family, load, fixture, probe, description))


def unregister_loader(family: str) -> None:
    """Remove a family's loader (tests that register a loader of their own undo it with this)."""
    LOADERS.unregister(family)


_discovered = False


def discover_loaders() -> Registry[LoaderEntry]:
    """Import every module of ``umeval.loaders`` and of the ``umeval.loaders`` entry-point group (once)."""
    global _discovered
    if not _discovered:
        _discovered = True  # set first: a loader module importing this one must not start a second walk
        import_plugins([_PACKAGE], ENTRY_POINT_GROUP)
    return LOADERS


def loader_entry(family: str) -> LoaderEntry:
    """The entry of ``family``; an unknown family is a one-line error naming the known ones and a close match."""
    reg = discover_loaders()
    if family in reg:
        return reg.get(family)
    hint = suggest(family, reg)
    raise ConfigError(
        f"no loader for data family '{family}' (known: {', '.join(sorted(reg))})",
        (hint + " " if hint else "") + "fix the task's family=, or register its loader with "
        "umeval.loaders.registry.register_loader (see docs/adding-a-loader.md)",
    )
