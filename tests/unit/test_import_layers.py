"""Imports flow one way (DESIGN.md "Shape"): read every module's imports with ``ast`` and fail on
a package importing one above it, or on any cycle between top-level packages or between the
subpackages of one package. Lazy imports inside functions count too: they are still a
dependency."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from config.settings import REPO_ROOT

# Each package may import the ones listed (and itself); anything else is a layering error.
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "indexer": {"config"},
    "reranker": {"config"},
    "evaluation": {"config", "indexer", "reranker"},
    "training": {"config", "indexer", "reranker", "evaluation"},
    "cli": {"config", "indexer", "reranker", "evaluation", "training"},
}
# The ranking core is pure: numpy in, numpy out; no settings, web or engine code.
CORE_FORBIDDEN = ("config", "reranker.app", "reranker.hook", "fastapi", "opensearchpy", "httpx")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute dotted names this module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in ALLOWED:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            graph[_module_name(path)] = _imports(path)
    return graph


GRAPH = _graph()


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle in a small directed graph, as a path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_package_is_scanned() -> None:
    for package in ALLOWED:
        assert any(m.split(".")[0] == package for m in GRAPH), package
    stray = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").exists()} - set(ALLOWED)
    assert not stray, f"top-level packages missing from ALLOWED: {sorted(stray)}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_below_it(package: str) -> None:
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in GRAPH.items()
        if module.split(".")[0] == package
        for name in names
        if name.split(".")[0] in ALLOWED
        and name.split(".")[0] != package
        and name.split(".")[0] not in ALLOWED[package]
    )
    assert not wrong, "\n".join(wrong)


def test_no_cycle_between_top_level_packages() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, names in GRAPH.items():
        top = module.split(".")[0]
        edges[top].update(n.split(".")[0] for n in names if n.split(".")[0] in ALLOWED)
        edges[top].discard(top)
    assert _find_cycle(edges) is None, _find_cycle(edges)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_cycle_between_subpackages(package: str) -> None:
    """``reranker.app`` and ``reranker.hook`` (and so on) may depend one way only."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, names in GRAPH.items():
        parts = module.split(".")
        if parts[0] != package or len(parts) < 2:
            continue
        for name in names:
            target = name.split(".")
            if (
                target[0] == package
                and len(target) >= 2
                and target[1] != parts[1]
                and any(m == f"{package}.{target[1]}" or m.startswith(f"{package}.{target[1]}.")
                        for m in GRAPH)
            ):
                edges[parts[1]].add(target[1])
    assert _find_cycle(edges) is None, f"{package}: {_find_cycle(edges)}"


def test_core_is_pure() -> None:
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in GRAPH.items()
        if module.startswith("reranker.core")
        for name in names
        if any(name == f or name.startswith(f + ".") for f in CORE_FORBIDDEN)
    )
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
