"""What a module names in code (for the tests that check which modules name a model family)."""

from __future__ import annotations

import ast


def code_names(tree: ast.AST, *, docstrings: bool = False) -> list[str]:
    """String constants, names, attributes and imported modules of a parsed module; docstrings only if asked."""
    docs = set()
    if not docstrings:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    docs.add(id(first.value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            out.append(node.value)
        elif isinstance(node, ast.Name):
            out.append(node.id)
        elif isinstance(node, ast.Attribute):
            out.append(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out += [getattr(node, "module", "") or ""] + [a.name for a in node.names]
    return out
