"""No import cycle between packages: the layout docs/architecture.md draws is the one the code has. And every
``welcomebot`` subprocess a test starts goes through ``tests/helpers.py``, where the token check sees its output.

A package is ``actors`` or ``welcomebot.<name>`` (a subpackage, or a top-level module such as
``welcomebot.bot``); every ``import`` and ``from ... import`` counts, those under ``TYPE_CHECKING`` and inside
functions too (a cycle hidden from the interpreter is still one for the reader). Run alone with
``.venv/bin/pytest -n 0 tests/test_layout.py``; ``python tests/test_layout.py`` prints the graph.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("welcomebot", "actors")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(module: str) -> str | None:
    """The node a module belongs to, or None outside our code."""
    parts = module.split(".")
    if parts[0] == "actors":
        return "actors"
    if parts[0] != "welcomebot":
        return None
    return ".".join(parts[:2])


def _imported(path: Path, module: str) -> list[tuple[str, int]]:
    """Every module ``path`` imports (absolute names), with the line."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                out.append((".".join([*base, *([node.module] if node.module else [])]), node.lineno))
            elif node.module is not None:
                out.append((node.module, node.lineno))
    return out


def package_graph() -> dict[str, dict[str, str]]:
    """package → imported package → one place that imports it (``path:line``)."""
    graph: dict[str, dict[str, str]] = defaultdict(dict)
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            module = _module_name(path)
            source = _package(module)
            assert source is not None
            for name, line in _imported(path, module):
                target = _package(name)
                if target is not None and target != source and target != "welcomebot":
                    graph[source].setdefault(target, f"{path.relative_to(ROOT)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    problems = []
    for component in cycles(graph):
        edges = [
            f"  {source} -> {target} ({where})"
            for source in component
            for target, where in sorted(graph[source].items())
            if target in component
        ]
        problems.append(f"cycle between {', '.join(component)}:\n" + "\n".join(edges))
    assert not problems, "\n".join(problems)


def test_the_graph_sees_known_edges() -> None:
    """The check would pass on an empty graph; these edges exist, so the parser reads the tree."""
    graph = package_graph()
    assert "welcomebot.gateway" in graph["welcomebot.cli"]
    assert "actors" in graph["welcomebot.app"]


def test_every_welcomebot_subprocess_goes_through_the_helpers():
    """``tests/helpers.py`` hands all a ``welcomebot`` subprocess writes to the token check; a test starting
    one by hand (``stderr=DEVNULL``, a pipe read for one event) would escape it."""
    by_hand = re.compile(r"""["']-m["']\s*,\s*["']welcomebot["']""")
    found = [
        f"{path.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path != ROOT / "tests" / "helpers.py"
        for text in [path.read_text(encoding="utf-8")]
        for match in by_hand.finditer(text)
    ]
    assert not found, (
        "start welcomebot through tests/helpers.py (run_welcomebot, WelcomebotPopen, WelcomebotProcess): "
        + ", ".join(found)
    )


def test_no_test_module_imports_another():
    """What tests share lives in tests/helpers.py (or a conftest.py, or a fakes module); a test module imported
    by another runs its tests' module-level code twice and ties unrelated tests together."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        module = _module_name(path)
        for name, line in _imported(path, module):
            if name.rsplit(".", 1)[-1].startswith("test_") and name.startswith("tests"):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not found, "\n".join(found)


if __name__ == "__main__":
    for source, targets in sorted(package_graph().items()):
        print(source, "->", ", ".join(sorted(targets)))
    sys.exit(1 if cycles(package_graph()) else 0)
