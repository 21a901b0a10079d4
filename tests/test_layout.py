"""The house rules of the package layout (see the README's Layout): small modules, short
search functions, imports pointing down."""

import ast
import pathlib

import pytest

import pjpart
import pjpart.kernels

ROOT = pathlib.Path(pjpart.__file__).parent
GENERATED = {"data"}  # regenerating scripts and bundled data


def modules():
    return [p for p in sorted(ROOT.rglob("*.py")) if not GENERATED & set(p.relative_to(ROOT).parts[:-1])]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_above_450_lines(path):
    assert len(path.read_text().splitlines()) <= 450


def test_no_search_function_above_60_lines():
    long = []
    for path in sorted((ROOT / "search").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long


KERNELS = pathlib.Path(pjpart.kernels.__file__).parent  # installed as pjpart.kernels


def _imports(path: pathlib.Path) -> set[str]:
    """Absolute names of the pjpart modules ``path`` imports (relative imports resolved)."""
    package = "pjpart.kernels" if path.parent == KERNELS else ".".join(("pjpart",) + path.relative_to(ROOT).parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names.add(name)
            names.update(f"{name}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("pjpart")}


@pytest.mark.parametrize("room, forbidden", [("bounds", "pjpart.search"), ("kernels", "pjpart.search"),
                                              ("importers", "pjpart.search"), ("importers", "pjpart.bounds"),
                                              ("export", "pjpart.search"), ("export", "pjpart.bounds")])
def test_imports_point_down(room, forbidden):
    folder = KERNELS if room == "kernels" else ROOT / room
    bad = {str(p.name): sorted(n for n in _imports(p) if n.startswith(forbidden))
           for p in sorted(folder.glob("*.py"))}
    assert not {k: v for k, v in bad.items() if v}


def test_the_lattice_and_the_cost_model_import_neither_search_nor_bounds():
    for name in ("lattice.py", "cost.py", "budget.py", "graph.py", "errors.py", "problem.py", "banded.py", "coarsen.py",
                 "graph_io.py", "reference.py"):
        assert not {n for n in _imports(ROOT / name) if n.startswith(("pjpart.search", "pjpart.bounds"))}, name
