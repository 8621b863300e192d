"""The package ``umeval`` has no import cycle (issue 15).

Edges are every ``import``/``from ... import`` of a module of ``umeval`` anywhere in a module (function-level
imports included), and every ``"umeval.module:attr"`` string, the form ``registry.load_object`` imports (the
subcommand table of the CLI, the references each loader module registers).  Catches: ``cli`` dispatching to ``launch``
while ``launch`` imports its tables from ``cli``, ``bench`` and ``bench_suite`` importing each other, and any new
cycle, named module by module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import umeval

PKG = Path(umeval.__file__).resolve().parent
REF = re.compile(r"umeval(\.\w+)*:\w+")

#: Cycles known and accepted, each with why.  The test fails when one of them disappears, so the list stays honest.
KNOWN: dict[frozenset[str], str] = {
    # (empty) The registry -> loaders -> registry cycle of the old loader table is gone: each loader module
    # registers itself in umeval.loaders.registry, which imports no loader module (issue 15).
}

def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        parts = ["umeval", *p.relative_to(PKG).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def import_graph() -> dict[str, set[str]]:
    mods = _modules()

    def known(name: str) -> str | None:  # the module itself, else its nearest package in umeval
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        targets: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets += [base, *(f"{base}.{a.name}" for a in node.names)]  # `from pkg import module`
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and REF.fullmatch(node.value):
                targets.append(node.value.partition(":")[0])
        graph[mod] = {t for t in map(known, targets) if t and t != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_graph_sees_function_level_imports_and_string_refs():
    # Catches a graph that misses the imports the test exists for (then it would pass on anything).
    g = import_graph()
    assert "umeval.run.launch" in g["umeval.cli"]  # the COMMANDS table, a string reference
    assert "umeval.run.runner" in g["umeval.cli"]  # `from umeval.run.runner import run` inside cmd_run
    assert "umeval.results.summary" in g["umeval.run.launch"]  # function-level import in launch.main
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_umeval():
    found = {frozenset(c): c for c in cycles(import_graph())}
    new = [" -> ".join(c) for k, c in found.items() if k not in KNOWN]
    assert not new, f"import cycle(s) in umeval: {'; '.join(new)}; move the shared code to a module both import"
    gone = [", ".join(sorted(k)) for k in KNOWN if k not in found]
    assert not gone, f"known cycle(s) no longer there: {'; '.join(gone)}; remove them from KNOWN"


def test_run_path_takes_the_embedded_default_from_product_code():
    """Catches the run path importing the test-fixture module for the embedded default again (issue 15)."""
    g = import_graph()
    assert "umeval.data.embedded" in g["umeval.run.context"]
    assert "umeval.data.embedded" not in g["umeval.testing.fixtures"]  # the writers do not know who stores their output
    assert "umeval.data.embedded" not in g["umeval.data.synthetic"]


def test_no_product_module_reaches_the_test_support_fixtures():
    """Catches a product module (the embedded default, the loaders, the runner, the oracle encoder...) importing
    umeval.testing, directly or through another module: the mini-suite data and the oracle's class vocabulary are
    product, the fixtures' answer keys and expected scores are test support (issues 15, 23).  selftest and bench
    (test/benchmark commands) may import it."""
    g = import_graph()
    allowed = ("umeval.testing", "umeval.commands.selftest", "umeval.bench")

    def reach(start: str) -> set[str]:  # what start imports, transitively, not through the allowed commands
        seen, todo = set(), [start]
        while todo:
            for w in g.get(todo.pop(), ()):
                if w not in seen:
                    seen.add(w)
                    if not w.startswith(allowed):
                        todo.append(w)
        return seen

    product = [m for m in g if not m.startswith(allowed)]
    assert "umeval.encoders.oracle" in product and "umeval.run.runner" in product
    offenders = [m for m in product if any(w.startswith("umeval.testing") for w in reach(m))]
    assert not offenders, f"product modules reaching umeval.testing: {offenders}"
