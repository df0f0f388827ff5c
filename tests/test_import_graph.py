"""The module import graph has no cycle, counting every import statement at any depth (function-level imports and
those under `if TYPE_CHECKING:` included), and a model kind's internals are reached only through the registry
(CONTRIBUTING.md, "The import rule")."""

import ast
from pathlib import Path

from clausemap.paths import PROJECT_ROOT

PACKAGES = ("clausemap", "labels", "training", "serving")  # the product; the kind rule applies to these
EVERYTHING = (*PACKAGES, "bench", "tests")  # no cycle anywhere (tests and benchmarks may import kind modules)
KINDS_PACKAGE = "training.kinds"
# Modules outside training/kinds/ that import a kind's own module (training.kinds.<module>), each with the reason.
# Everything else reaches a kind through the registry (training.kinds.get_kind: its section, fit, predictor and
# export) and the Predictor interface.
ALLOWED_KIND_IMPORTS: dict[str, set[str]] = {
    # `clausemap models fetch` downloads the pretrained encoders into the user cache: a helper the bert and linear
    # kinds share (they resolve names through it), no kind's internals.
    "training.cli": {"training.kinds.encoders"},
}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every import statement in `source`, at any depth, of a module in `known`. `from a import
    b` counts `a.b` when that is a module, else `a`; importing `a.b` counts `a.b` (its package `a` is no cycle
    risk of its own: a package that imports its children would show up as its own edges)."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            while target and target not in known:  # `import a.b.c` where c is a name, not a module
                target = target.rpartition(".")[0]
            if target and target != module:
                found.append((node.lineno, target))
    return found


def import_graph(root: Path, packages=PACKAGES) -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}, for every module of `packages` under `root`."""
    paths = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    known = set(paths)
    graph: dict[str, dict[str, int]] = {}
    for module, path in paths.items():
        edges = graph.setdefault(module, {})
        for line, target in imported_modules(path.read_text(encoding="utf-8"), module,
                                             path.name == "__init__.py", known):
            edges.setdefault(target, line)
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str]:
    """One cycle as [a, b, …, a], or [] when the graph has none (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, {}))))
    return []


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return "\n".join(f"  {a} imports {b} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:]))


def _write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def test_the_scanner_finds_a_cycle_through_function_level_and_type_checking_imports(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "def f():\n    from pkg.b import g\n",
        "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\n",
        "pkg/c.py": "import pkg.a as a\n",
        "pkg/d.py": "from pkg import a, c\n",
    })
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.d"] == {"pkg.a": 1, "pkg.c": 1}
    cycle = find_cycle(graph)
    assert cycle == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    assert "pkg.b imports pkg.c (line 3)" in describe(cycle, graph)


def test_the_scanner_finds_no_cycle_in_a_one_way_graph(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "import importlib\nimportlib.import_module('pkg.b')\n",  # a string is no import statement
        "pkg/b.py": "from pkg.a import x\nfrom pkg import c\n",
        "pkg/c.py": "",
    })
    assert find_cycle(import_graph(tmp_path, ("pkg",))) == []


def test_no_import_cycle_counting_every_import_statement():
    graph = import_graph(PROJECT_ROOT, EVERYTHING)
    cycle = find_cycle(graph)
    assert not cycle, "import cycle:\n" + describe(cycle, graph)


def test_only_the_registry_reaches_a_kinds_internals():
    graph = import_graph(PROJECT_ROOT)
    kind_modules = {m for m in graph if m.startswith(KINDS_PACKAGE + ".")}
    leaks = [f"{module} imports {target} (line {line})"
             for module, edges in sorted(graph.items()) if module != KINDS_PACKAGE and module not in kind_modules
             for target, line in edges.items()
             if target in kind_modules and target not in ALLOWED_KIND_IMPORTS.get(module, set())]
    assert not leaks, "a kind's module imported from outside training/kinds/:\n" + "\n".join(leaks)


def test_the_registry_is_a_leaf():
    graph = import_graph(PROJECT_ROOT)
    assert not [t for t in graph[KINDS_PACKAGE] if t.startswith("training")], graph[KINDS_PACKAGE]


def test_no_kind_imports_another_kinds_module():
    from training.kinds import BUILTIN

    graph = import_graph(PROJECT_ROOT)
    kinds = set(BUILTIN.values())
    crossing = [f"{module} imports {target} (line {line})" for module in sorted(kinds)
                for target, line in graph[module].items() if target in kinds]
    assert not crossing, "a kind reaches into another kind (ask the registry instead):\n" + "\n".join(crossing)
