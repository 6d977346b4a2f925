"""The structure of ``src/codetracer``: imports run one way, no module grows past 600 lines.

The import graph is read from the code itself with ``ast``: every ``import`` and ``from ... import`` statement of a
module counts, wherever it stands (module level, inside a function, under ``if TYPE_CHECKING:``, in a ``try``), and
so does ``importlib.import_module("literal")``. What is not an edge, by design: names a module loads from data at
run time (the entry points of group ``codetracer``, the module tables of :mod:`codetracer.plugins`, the record
mapper names journals hold, the lazy attribute table of the package root ``codetracer``). That late binding by name
is how the upper layers plug into the lower ones without the lower ones importing them (docs/architecture.md).

An edge goes to the module imported: ``from codetracer.core import model`` is an edge to ``codetracer.core.model``,
``from codetracer.core.model import Run`` too, ``from codetracer.hooks import hookimpl`` to the package
``codetracer.hooks`` (its ``__init__``). Importing a submodule also runs its parent packages' ``__init__``; that is
not counted as an edge, since a package's ``__init__`` importing its own submodules is no circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "codetracer"
MAX_LINES = 600

ABOVE_CORE = (
    "codetracer.adapters",
    "codetracer.autotrace",
    "codetracer.cli",
    "codetracer.pytest_plugin",
    "codetracer.export",
    "codetracer.plugins",
    "codetracer.live",
    "codetracer.localize",
    "codetracer.evaluate",
    "codetracer.replay",
    "codetracer.report",
    "codetracer.testing",
)
"""What ``core/`` and ``hooks/`` must never import: the layers above them (docs/architecture.md)."""

ENTRY_LAYERS = (
    "codetracer.cli",
    "codetracer.autotrace",
    "codetracer.pytest_plugin",
    "codetracer.export",
    "codetracer.plugins",
)
"""The outermost layer (user entry points and the composition of built-ins): no adapter imports them."""


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by the name of its ``__init__``)."""
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _nearest(name: str, known: dict[str, Path]) -> str | None:
    """``name`` if it is a module, else the closest enclosing one (``codetracer.core.model.Run`` -> ``...model``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The codetracer modules that module ``name`` imports, from every import statement in its source."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, one level up per extra dot
                base = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in known else source)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
            )
        ):
            targets.add(node.args[0].value)
    resolved = {_nearest(t, known) for t in targets if t == PACKAGE or t.startswith(PACKAGE + ".")}
    return {t for t in resolved if t is not None and t != name}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one concrete circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(start: str) -> None:  # iterative: deep graphs must not hit the recursion limit
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    components.append(_one_circle(graph, set(component)))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return components


def _one_circle(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, through its members."""
    start = min(members)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"no circle through {sorted(members)}")  # pragma: no cover


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# -- the checks ---------------------------------------------------------------------------------------------------


def test_the_graph_reader_sees_every_kind_of_import() -> None:
    """The reader counts function-level, TYPE_CHECKING and import_module imports (checked on modules that have them)."""
    graph = import_graph()
    assert "codetracer.core.tracer" in graph["codetracer"]  # inside get_tracer() and under TYPE_CHECKING
    assert "codetracer.core.model" in graph["codetracer.hooks.specs"]  # only under TYPE_CHECKING
    assert "codetracer.adapters.langchain.live" in graph["codetracer.live"]  # importlib.import_module("...")
    assert "codetracer.hooks.manager" in graph["codetracer.core.records"]  # inside a function
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_circle() -> None:
    found = circles(import_graph())
    assert not found, "import circles (each module imports the next):\n" + "\n".join(" -> ".join(c) for c in found)


def test_core_and_hooks_import_nothing_above_them() -> None:
    """``core/`` and ``hooks/`` know no adapter, command line, pytest plugin, exporter, localizer or built-in plugin;
    ``hooks/`` knows only its specs, its manager and the tree model the specs name."""
    wrong = set()
    for name, targets in import_graph().items():
        if _under(name, ("codetracer.core", "codetracer.hooks")):
            wrong |= {f"{name} -> {t}" for t in targets if _under(t, ABOVE_CORE) or t == PACKAGE}
        if _under(name, ("codetracer.hooks",)):
            wrong |= {f"{name} -> {t}" for t in targets if not _under(t, ("codetracer.hooks", "codetracer.core.model"))}
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_adapters_import_no_entry_point() -> None:
    """Adapters are below the command line, the pytest plugin, the exporters and the composition of built-ins."""
    wrong = [
        f"{name} -> {t}"
        for name, targets in import_graph().items()
        if _under(name, ("codetracer.adapters",))
        for t in sorted(targets)
        if _under(t, ENTRY_LAYERS)
    ]
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_module_over_600_lines() -> None:
    long = {name: n for name, path in modules().items() if (n := len(path.read_text(encoding="utf-8").splitlines()))
            > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"
