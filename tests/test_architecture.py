"""The shape of the code, checked from its source (issue 18): no import cycles, no module over
400 lines, the lane reached only through its public surface, CLI command modules apart.

The import graph is built here from an independent ``ast`` scan, not by import-linter: every
``import`` and ``from ... import`` anywhere in a module (module level, inside functions, under
``if TYPE_CHECKING:``), and the modules named by strings that are imported at run time: the
literal argument of ``importlib.import_module`` / ``__import__``, and the entries of a
module-level UPPER_CASE table of such names (a lazy registry's ``"module:attr"`` targets).
An edge goes to the module named (``from gate.cli import args`` names ``gate.cli.args``;
``from gate.errors import GateError`` names ``gate.errors``). A package's ``__init__`` running
before its submodules is Python's doing, not an import the code makes: it is no edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PRODUCT = ("gate", "models", "drivers", "bench")
MAX_LINES = 400
LANE = "gate.lane"
TABLES = (ast.Tuple, ast.List, ast.Set, ast.Dict)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str  # the source's file, relative to the scanned root
    line: int
    how: str  # "import", "function", "dynamic"

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def find_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name (a package by its own)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


class Scan:
    """The import edges between the modules of ``packages`` under ``root``."""

    def __init__(self, root: Path, packages: tuple[str, ...]) -> None:
        self.root = root
        self.modules = find_modules(root, packages)
        self.edges: list[Edge] = []
        for source, path in self.modules.items():
            self._scan(source, path)

    def graph(self) -> dict[str, dict[str, Edge]]:
        out: dict[str, dict[str, Edge]] = {name: {} for name in self.modules}
        for edge in self.edges:
            out[edge.source].setdefault(edge.target, edge)
        return out

    def _known(self, name: str) -> str | None:
        """``name`` itself when it is one of the modules, else its longest prefix that is."""
        parts = name.split(".")
        while parts:
            candidate = ".".join(parts)
            if candidate in self.modules:
                return candidate
            parts.pop()
        return None

    def _from_base(self, source: str, node: ast.ImportFrom) -> str:
        """The package a ``from`` import names, relative imports resolved."""
        if node.level == 0:
            return node.module or ""
        package = source.split(".")
        if self.modules[source].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        return ".".join(package + ([node.module] if node.module else []))

    def _string_target(self, text: str) -> str | None:
        """The module a run-time import string names (``"pkg.mod"``, ``"pkg.mod:attr"``)."""
        name = text.partition(":")[0]
        if not name or not all(part.isidentifier() for part in name.split(".")):
            return None
        return name if name in self.modules else None

    def _dynamic(self, tree: ast.Module) -> Iterator[tuple[str, int]]:
        """(module, line) for each run-time import by string: ``import_module("...")`` and
        ``__import__("...")``, and the strings of module-level UPPER_CASE tables."""
        texts: list[ast.expr] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("import_module", "__import__"):
                    texts.append(node.args[0])
        for statement in tree.body:
            if isinstance(statement, ast.Assign):
                names = [t.id for t in statement.targets if isinstance(t, ast.Name)]
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                names = [statement.target.id]
            else:
                continue
            table = statement.value
            if names and all(n.isupper() for n in names) and isinstance(table, TABLES):
                texts.extend(n for n in ast.walk(table) if isinstance(n, ast.expr))
        for text in texts:
            if isinstance(text, ast.Constant) and isinstance(text.value, str):
                target = self._string_target(text.value)
                if target is not None:
                    yield target, text.lineno

    def _scan(self, source: str, path: Path) -> None:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = str(path.relative_to(self.root))
        in_function: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                in_function |= {
                    inner.lineno
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Import | ast.ImportFrom)
                }
        for node in ast.walk(tree):
            named: list[str] = []
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = self._from_base(source, node)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    named.append(full if full in self.modules else base)
            else:
                continue
            how = "function" if node.lineno in in_function else "import"
            for name in named:
                target = self._known(name)
                if target is not None and target != source:
                    self.edges.append(Edge(source, target, where, node.lineno, how))
        for target, line in self._dynamic(tree):
            if target != source:
                self.edges.append(Edge(source, target, where, line, "dynamic"))


@cache
def product() -> Scan:
    return Scan(PROJECT_ROOT, PRODUCT)


def strongly_connected(g: dict[str, dict[str, Edge]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
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
                    components.append(sorted(component))
    return components


def one_cycle(g: dict[str, dict[str, Edge]], component: list[str]) -> list[Edge]:
    """A shortest cycle through the component's first module (breadth first)."""
    members = set(component)
    start = component[0]
    came: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target, edge in sorted(g[node].items()):
                if target not in members:
                    continue
                if target == start:
                    path = [edge]
                    while path[0].source != start:
                        path.insert(0, came[path[0].source])
                    return path
                if target not in came:
                    came[target] = edge
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle in {component}")


def describe(cycle: list[Edge]) -> str:
    steps = [f"{e.source} -> {e.target} ({e.how}, {e.where()})" for e in cycle]
    return "\n  ".join(steps)


# -- the checks --------------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_scan_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The scanner itself, on a made-up package: module-level, function-level, TYPE_CHECKING,
    relative and string imports all become edges, names imported from a module do not."""
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg import cmd\nCOMMANDS = ('pkg.tab:thing', 'not.ours')\n",
            "pkg/cmd.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from pkg.low import Thing\n",
            "pkg/low.py": "import importlib\ndef f():\n    from . import deep\n"
            "    importlib.import_module('pkg.sub.deep')\n    return deep\n",
            "pkg/tab.py": "from pkg.low import f as g\nfrom pkg.sub import deep\n",
            "pkg/deep.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "from .. import low\nfrom ..deep import x\n",
        },
    )
    scan = Scan(tmp_path, ("pkg",))
    got = {(e.source, e.target, e.how) for e in scan.edges}
    assert got == {
        ("pkg", "pkg.cmd", "import"),
        ("pkg", "pkg.tab", "dynamic"),
        ("pkg.cmd", "pkg.low", "import"),
        ("pkg.low", "pkg.deep", "function"),
        ("pkg.low", "pkg.sub.deep", "dynamic"),
        ("pkg.tab", "pkg.low", "import"),
        ("pkg.tab", "pkg.sub.deep", "import"),
        ("pkg.sub.deep", "pkg.low", "import"),
        ("pkg.sub.deep", "pkg.deep", "import"),
    }
    g = scan.graph()
    (component,) = strongly_connected(g)  # pkg.low -> pkg.sub.deep -> pkg.low
    assert component == ["pkg.low", "pkg.sub.deep"]
    cycle = one_cycle(g, component)
    assert [(e.source, e.target) for e in cycle] == [
        ("pkg.low", "pkg.sub.deep"),
        ("pkg.sub.deep", "pkg.low"),
    ]
    assert "pkg/sub/deep.py:1" in describe(cycle)


def test_the_product_scan_covers_the_code() -> None:
    scan = product()
    assert {"gate.cli", "gate.lane.machine", "models.engine", "drivers.backends"} <= set(
        scan.modules
    )
    hows = {e.how for e in scan.edges}
    assert hows == {"import", "function", "dynamic"}
    assert len(scan.edges) > 500


def test_no_import_cycles() -> None:
    g = product().graph()
    cycles = [describe(one_cycle(g, c)) for c in strongly_connected(g)]
    assert not cycles, f"{len(cycles)} import cycle(s):\n  " + "\n\n  ".join(cycles)


@pytest.mark.parametrize("root", PRODUCT)
def test_no_module_over_400_lines(root: str) -> None:
    scan = product()
    sizes = {
        str(path.relative_to(PROJECT_ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for name, path in scan.modules.items()
        if name == root or name.startswith(root + ".")
    }
    over = {path: lines for path, lines in sorted(sizes.items()) if lines > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines: {over}"


def test_product_code_reaches_the_lane_only_through_its_surface() -> None:
    """Outside ``gate/lane``, product code imports ``gate.lane`` and nothing under it."""
    leaks = [
        f"{e.where()}: {e.source} imports {e.target}"
        for e in product().edges
        if e.target.startswith(LANE + ".") and not (e.source + ".").startswith(LANE + ".")
    ]
    assert not leaks, "import these from gate.lane (export them there):\n" + "\n".join(leaks)


def test_cli_command_modules_do_not_import_each_other() -> None:
    scan = product()
    commands = {m for m in scan.modules if m.startswith("gate.cli.") and m.endswith("_cmd")}
    crossing = [
        f"{e.where()}: {e.source} imports {e.target}"
        for e in scan.edges
        if e.source in commands and e.target in commands
    ]
    assert len(commands) >= 10
    assert not crossing, "move what they share into a module of gate.cli:\n" + "\n".join(crossing)


def _is_test_module(name: str) -> bool:
    return name.rpartition(".")[2].startswith("test_")


def test_no_test_module_imports_another() -> None:
    """Shared test helpers live in helper modules or fixtures, never in another test module
    (importing one runs its tests' module code twice and ties two files' fates)."""
    found = []
    for root in ("tests", "bench"):
        for path in sorted((PROJECT_ROOT / root).rglob("test_*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                for name in names:
                    if name.split(".")[0] in ("tests", "bench") and _is_test_module(name):
                        found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {name}")
    assert not found, "test modules importing test modules:\n  " + "\n  ".join(found)
