"""No import cycles inside dialoghub: not between two modules, and not between two siblings
of one package (a package counts as everything in it).

The layers themselves are import-linter's contracts (``[tool.importlinter]`` in
pyproject.toml, run by ``make test``); this test adds what a layers contract cannot say for
every package at once: that nowhere does a module import, even through others, a module that
imports it. Imports under ``if TYPE_CHECKING:`` are not counted: they never run, so they
close no cycle at import time (a type from a higher layer is still refused by the layers).

A failure lists each cycle as a chain of imports with their line numbers, shortest first.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import grimp
import pytest

PACKAGE = "dialoghub"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=True, cache_dir=None)


def strongly_connected(nodes: Iterable[str], edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The components of more than one node (Tarjan, iterative), each sorted, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def shortest_cycle(start: str, members: set[str], edges: Mapping[str, Iterable[str]]) -> list[str]:
    """A shortest cycle through ``start`` inside one component: ``[start, ..., start]``."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(edges.get(node, ())):
                if succ not in members:
                    continue
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if succ not in parents:
                    parents[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"{start} is in no cycle")  # pragma: no cover


def subtree(graph: grimp.ImportGraph, module: str) -> list[str]:
    return [module, *sorted(graph.find_descendants(module))]


def an_import(graph: grimp.ImportGraph, importer: str, imported: str) -> tuple[str, str]:
    """One direct import from the package ``importer`` (or a module in it) into ``imported``."""
    inside = set(subtree(graph, imported))
    for module in subtree(graph, importer):
        for target in sorted(graph.find_modules_directly_imported_by(module)):
            if target in inside:
                return module, target
    raise AssertionError(f"{importer} does not import {imported}")  # pragma: no cover


def describe(cycle: list[str], graph: grimp.ImportGraph, *, as_packages: bool) -> str:
    """The cycle, then one line per import with its line numbers (for two packages, one
    of the imports from the first into the second)."""
    lines = [" -> ".join(cycle)]
    for importer, imported in itertools.pairwise(cycle):
        if as_packages:
            importer, imported = an_import(graph, importer, imported)
        details = graph.get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"l.{d['line_number']}" for d in details) or "?"
        lines.append(f"    {importer} -> {imported} ({where})")
    return "\n".join(lines)


def report(components: list[list[str]], edges: Mapping[str, Iterable[str]],
           graph: grimp.ImportGraph, *, as_packages: bool) -> str:
    parts = []
    for component in sorted(components, key=len):
        cycle = shortest_cycle(component[0], set(component), edges)
        text = describe(cycle, graph, as_packages=as_packages)
        if len(component) > len(cycle) - 1:
            text += "\n    (one cycle of the tangle " + ", ".join(component) + ")"
        parts.append(text)
    return "\n".join(parts)


def test_no_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    components = strongly_connected(graph.modules, edges)
    assert not components, (
        f"{len(components)} import cycle(s) between modules of {PACKAGE}:\n"
        + report(components, edges, graph, as_packages=False)
    )


def test_no_cycle_between_siblings(graph: grimp.ImportGraph) -> None:
    """Inside each package, its children (each subpackage taken whole) form no cycle."""
    problems = []
    for package in sorted(m for m in graph.modules if graph.find_children(m)):
        children = sorted(graph.find_children(package))
        edges: dict[str, set[str]] = {c: set() for c in children}
        for a in children:
            for b in children:
                if a != b and graph.direct_import_exists(importer=a, imported=b, as_packages=True):
                    edges[a].add(b)
        components = strongly_connected(children, edges)
        if components:
            problems.append(
                f"in {package}:\n" + report(components, edges, graph, as_packages=True)
            )
    assert not problems, "import cycle(s) between siblings:\n" + "\n".join(problems)


# --- the finder itself ------------------------------------------------------------------------


def test_the_finder_finds_cycles_and_only_cycles() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["f"], "f": ["e"], "g": ["g"]}
    assert strongly_connected(edges, edges) == [["a", "b", "c"], ["e", "f"]]
    assert shortest_cycle("a", {"a", "b", "c"}, edges) == ["a", "b", "c", "a"]
    assert strongly_connected({"x": [], "y": ["x"]}, {"x": [], "y": ["x"]}) == []
    # a long chain does not exhaust the recursion limit
    chain = {str(i): [str(i + 1)] for i in range(5000)} | {"5000": ["0"]}
    assert len(strongly_connected(chain, chain)[0]) == 5001
