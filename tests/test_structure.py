"""The structure docs/architecture.md describes, held by reading the source: imports flow one way
(no circle among hmrec's modules, imports inside functions counted), and no module but the
registry compares a value with a model's name."""

from __future__ import annotations

import ast
from pathlib import Path

import hmrec
from hmrec.registry import MODEL_NAMES

SOURCE = Path(hmrec.__file__).parent


def _modules() -> dict[str, ast.Module]:
    trees = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        trees[name] = ast.parse(path.read_text(), filename=str(path))
    return trees


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The nodes inside ``if TYPE_CHECKING:`` blocks (never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for inner in ast.walk(node)}
    return skipped


def imports(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Each module's hmrec modules imported anywhere in it (functions too), but for type checking."""
    graph: dict[str, set[str]] = {}
    for name, tree in trees.items():
        skipped, found = _type_checking_only(tree), set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "hmrec":
                for alias in node.names:
                    found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in trees else node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "hmrec"}
        graph[name] = {m for m in found if m in trees and m != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
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
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_among_hmrec_modules() -> None:
    assert circles(imports(_modules())) == []


def test_the_circle_finder_finds_a_circle_through_a_function_level_import() -> None:
    trees = {
        "hmrec.a": ast.parse("from hmrec.b import x\n"),
        "hmrec.b": ast.parse("def f():\n    from hmrec.a import y\n"),
        "hmrec.c": ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hmrec.a import z\n"),
    }
    graph = imports(trees)
    assert graph["hmrec.c"] == set()  # type checking only: not an import that runs
    assert circles(graph) == [["hmrec.a", "hmrec.b"]]


def _literal_values(node: ast.AST) -> list[object]:
    return [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]


def name_comparisons(tree: ast.Module) -> list[int]:
    """The lines of ``tree`` that compare something with a model's name written as a literal."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(v in MODEL_NAMES for side in (node.left, *node.comparators) for v in _literal_values(side))
    ]


def test_no_module_but_the_registry_compares_a_model_name() -> None:
    found = {name: lines for name, tree in _modules().items() if (lines := name_comparisons(tree))}
    assert set(found) <= {"hmrec.registry"}, found


def test_a_model_name_comparison_is_found() -> None:
    source = 'if model.name == "ranker":\n    pass\nif x in ("local", "mf"):\n    pass\nif n == "union":\n    pass\n'
    assert name_comparisons(ast.parse(source)) == [1, 3]


MODULE_LINES = 400
FUNCTION_LINES = 60


def long_parts(trees: dict[str, ast.Module], sources: dict[str, str]) -> list[str]:
    """Modules over ``MODULE_LINES`` lines and functions over ``FUNCTION_LINES`` (signature,
    docstring and body), as ``module`` or ``module.function: lines``."""
    found = [f"{name}: {n}" for name, text in sources.items() if (n := len(text.splitlines())) > MODULE_LINES]
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > FUNCTION_LINES:
                    found.append(f"{name}.{node.name}: {length}")
    return found


def test_no_module_over_400_lines_and_no_function_over_60() -> None:
    sources = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        sources[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text()
    assert long_parts(_modules(), sources) == []


def test_a_long_function_and_a_long_module_are_found() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    text = f"def long():\n{body}\n\n\ndef short():\n    return 1\n" + "#\n" * MODULE_LINES
    found = long_parts({"m": ast.parse(text)}, {"m": text})
    assert found == [f"m: {len(text.splitlines())}", f"m.long: {FUNCTION_LINES + 1}"]
