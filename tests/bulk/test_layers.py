"""The bulk app's layers: screens (views, forms) on services, services queue tasks, tasks call
the worker; imports go one way only, and no import hides inside a function to dodge a cycle."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import segadmin.bulk

BULK = Path(segadmin.bulk.__file__).parent
SCREENS = {"views", "forms", "urls", "services"}
WORKER_SIDE = {"tasks", "worker", "dryrun", "rights"}


def bulk_imports(path: Path) -> tuple[set[str], set[str]]:
    """(bulk modules imported at module level, those imported inside a function)."""
    tree = ast.parse(path.read_text())
    top, inner = set(), set()
    nested = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "segadmin.bulk":
                names = [alias.name for alias in node.names]
            elif node.module.startswith("segadmin.bulk."):
                names = [node.module.split(".")[2]]
        elif isinstance(node, ast.Import):
            names = [
                a.name.split(".")[2] for a in node.names if a.name.startswith("segadmin.bulk.")
            ]
        (inner if id(node) in nested else top).update(names)
    return top, inner


def modules() -> dict[str, Path]:
    return {path.stem: path for path in BULK.glob("*.py") if path.stem != "__init__"}


def test_the_bulk_modules_import_each_other_without_a_cycle():
    graph = {name: bulk_imports(path)[0] for name, path in modules().items()}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:  # pragma: no cover - the message names the cycle
        raise AssertionError(f"bulk modules import each other: {exc.args[1]}") from None


def test_the_worker_side_never_imports_the_screens_side():
    for name in WORKER_SIDE:
        top, inner = bulk_imports(modules()[name])
        assert not (top | inner) & SCREENS, f"{name}.py imports {(top | inner) & SCREENS}"


def test_no_bulk_module_imports_another_inside_a_function_except_the_app_config():
    # AppConfig.ready() imports once the apps are loaded, as Django requires.
    hidden = {name: bulk_imports(path)[1] for name, path in modules().items() if name != "apps"}
    assert {name: found for name, found in hidden.items() if found} == {}
