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

A loader also declares the task options it reads (``options``: name -> :class:`Option`, a type, the allowed
values where they are few, and a line of documentation).  :func:`check_task_options` runs when a task is
registered (:func:`umeval.core.registry.register_task`): an option the loader does not read, or one of the
wrong type, fails there in one line with a did-you-mean, instead of silently reverting the official text.

:func:`discover_loaders` imports every module of the ``umeval.loaders`` package and of the ``umeval.loaders``
entry-point group (third-party loaders), so adding a loader is one module; no table elsewhere to edit.
Importing this module imports no loader module (and never torch).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from umeval.core.errors import ConfigError
from umeval.core.plugins import Registry, import_plugins, load_object, suggest

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
class Option:
    """One task option a loader reads: its type (or types), the allowed values if few, and what it does.

    ``items``: for a list/tuple option, the type of its elements; for a dict option, the type of its values.
    """

    type: builtins.type | tuple[builtins.type, ...]
    doc: str
    choices: tuple[Any, ...] = ()
    items: builtins.type | None = None
    required: bool = False

    def problem(self, value: Any) -> str:
        """Why ``value`` does not fit, or "" when it does."""
        kinds = self.type if isinstance(self.type, tuple) else (self.type,)
        # bool is an int to isinstance; an int option given True is a slip, not a number
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return f"is {type(value).__name__} {value!r}, expected {' or '.join(k.__name__ for k in kinds)}"
        if self.choices and value not in self.choices:
            return f"is {value!r}, expected one of {', '.join(map(repr, self.choices))}"
        if self.items is not None:
            inner = list(value.values()) if isinstance(value, Mapping) else list(cast(Any, value))
            bad = [v for v in inner if not isinstance(v, self.items)]
            if bad:
                return f"holds {type(bad[0]).__name__} {bad[0]!r}, expected {self.items.__name__} elements"
        return ""


@dataclass(frozen=True)
class LoaderEntry:
    """One data family: how to load it, write its fixture and probe for its data (lazy references)."""

    family: str
    load: str
    fixture: str
    probe: str | None = None
    description: str = ""
    options: Mapping[str, Option] = dc_field(default_factory=dict)  # the task options the loader reads

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
                    description: str = "", options: Mapping[str, Option] | None = None) -> LoaderEntry:
    """Register the loader of ``family`` (each loader module calls this for its own families, at import)."""
    return LOADERS.register(family, LoaderEntry(family, load, fixture, probe, description, dict(options or {})))


def check_task_options(spec: TaskSpec) -> None:
    """Refuse a task option its loader does not declare, one of the wrong type, or a missing required one.

    A task whose family has no registered loader is left alone here (it fails, in one line, when it is run).
    """
    reg = discover_loaders()
    if spec.family not in reg:
        return
    entry = reg.get(spec.family)
    for name, value in spec.options.items():
        if name not in entry.options:
            hint = suggest(name, entry.options)
            known = ", ".join(sorted(entry.options)) or "none"
            raise ConfigError(f"task '{spec.name}': unknown option '{name}' for loader '{spec.family}' "
                              f"(it reads: {known})",
                              (hint + " " if hint else "") + "fix the option's name in the task spec")
        why = entry.options[name].problem(value)
        if why:
            raise ConfigError(f"task '{spec.name}': option '{name}' {why}",
                              f"fix it in the task spec ({name}: {entry.options[name].doc})")
    missing = [n for n, o in entry.options.items() if o.required and n not in spec.options]
    if missing:
        raise ConfigError(f"task '{spec.name}': loader '{spec.family}' needs option(s) {', '.join(missing)}",
                          "; ".join(f"{n}: {entry.options[n].doc}" for n in missing))


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
