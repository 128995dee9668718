"""The shell classifier's modules import each other as a tree, never in a cycle: handlers are
registered in one table (handlers.py) that the analysis is given, instead of the analysis and
the handlers importing each other. Every import counts, including ones inside functions and
under TYPE_CHECKING, so a cycle cannot hide in a lazy import."""

from __future__ import annotations

import ast
from pathlib import Path

import airlock.classify.shell as package
from airlock.classify.shell.base import Handlers
from airlock.classify.shell.handlers import HANDLERS
from airlock.classify.shell.rules import registry

FOLDER = Path(package.__file__).parent
PREFIX = "airlock.classify.shell"
HANDLER_MODULES = {"programs", "wrappers", "databases", "http_clients", "inline", "remote",
                   "scripts", "packages", "makefiles"}


def _graph() -> dict[str, set[str]]:
    modules = {p.stem for p in FOLDER.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module in modules:
        tree = ast.parse((FOLDER / f"{module}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == PREFIX:
                    graph[module].update(a.name for a in node.names if a.name in modules)
                elif node.module.startswith(PREFIX + "."):
                    graph[module].add(node.module.split(".")[3])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(PREFIX + "."):
                        graph[module].add(alias.name.split(".")[3])
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_modules_import_each_other_without_a_cycle() -> None:
    graph = _graph()
    assert len(graph) > 15, "the module scan found too little: check FOLDER"
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_the_analysis_is_given_its_handlers_and_imports_none() -> None:
    graph = _graph()
    assert not graph["analysis"] & HANDLER_MODULES, graph["analysis"]
    assert not graph["base"] & (HANDLER_MODULES | {"analysis", "handlers"})


def test_a_cycle_would_be_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_handler_a_rule_pack_names_is_in_the_table() -> None:
    assert list(HANDLERS.missing(registry())) == []
    empty = Handlers({}, {}, {}, HANDLERS.local_program)
    assert list(empty.missing(registry())), "the check must see missing handlers"
