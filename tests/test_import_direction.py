"""Imports go one way along the data flow, clausemap (clauses) <- labels <- training <- serving: no module imports
a later stage, at module level or inside a function (CONTRIBUTING.md, "The import rule")."""

import ast
from pathlib import Path

from clausemap.paths import PROJECT_ROOT

STAGES = ("clausemap", "labels", "training", "serving")  # earliest first
# Imports of a later stage that exist today, each with the reason it is allowed: none. The `clausemap` command
# names later stages' command modules as strings for importlib (clausemap/cli.py), and an earlier stage reaches a
# later one at run time through clausemap.hooks; neither is an import statement.
ALLOWED: dict[str, set[str]] = {}


def later_stage_imports(source: str, stage: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in `source`, at any depth, of a stage after `stage`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their own package
        for name in names:
            top = name.split(".")[0]
            if top in STAGES and STAGES.index(top) > STAGES.index(stage):
                found.append((node.lineno, name))
    return found


def test_the_scanner_finds_a_function_level_import_of_a_later_stage():
    source = "import labels\n\ndef f():\n    from serving.app import create_app\n    import training.cli as c\n"
    assert later_stage_imports(source, "labels") == [(4, "serving.app"), (5, "training.cli")]
    assert later_stage_imports(source, "serving") == []


def test_no_module_imports_a_later_stage():
    violations = []
    for stage in STAGES:
        for path in sorted((PROJECT_ROOT / stage).rglob("*.py")):
            module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            for line, name in later_stage_imports(path.read_text(encoding="utf-8"), stage):
                if name not in ALLOWED.get(module, set()):
                    violations.append(f"{Path(path).relative_to(PROJECT_ROOT)}:{line}: imports {name}")
    assert not violations, "imports of a later stage:\n" + "\n".join(violations)
