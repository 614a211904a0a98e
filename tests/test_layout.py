"""The package layout and the import direction tamp <- robots <- scenes <- policies <- experiments."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["tamp", "robots", "scenes", "policies", "experiments"]
#: third-party modules a package must not import (the planner knows nothing of a simulator)
FORBIDDEN_EXTRA = {"tamp": {"pybullet", "gymnasium", "rospy", "roslibpy", "serial", "pymodbus"},
                   "robots": {"pybullet", "gymnasium"}}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", ORDER)
def test_package_imports_only_packages_before_it(package):
    later = set(ORDER[ORDER.index(package) + 1:])
    forbidden = later | FORBIDDEN_EXTRA.get(package, set())
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    offenders = {str(f.relative_to(ROOT)): sorted(imported_modules(f) & forbidden)
                 for f in files}
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"{package} imports packages it must not: {offenders}"


def test_checker_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pybullet as p\nfrom scenes.env import TabletopEnv\n")
    assert imported_modules(bad) == {"pybullet", "scenes"}


def test_layout_folders_exist():
    for folder in ORDER + ["tests", "docker"]:
        assert (ROOT / folder).is_dir(), folder
    for f in ["pyproject.toml", "README.md", "Makefile", ".ci/run", "docker/Dockerfile"]:
        assert (ROOT / f).is_file(), f


def test_import_tamp_does_not_load_simulator():
    import subprocess
    import sys

    code = ("import sys, tamp, tamp.planner; "
            "print(sorted(m for m in ('pybullet', 'gymnasium', 'scenes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "[]"


# -- the shape of the modules --------------------------------------------------------------
MAX_LINES = 500  #: no module of tamp/, policies/ or experiments/ is longer


def module_graph() -> dict[str, set[str]]:
    """Every module of the five packages -> the modules of the five it imports, at the
    top or inside a function alike (a function-level import still couples the two)."""
    files = {}
    for package in ORDER:
        for f in (ROOT / package).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = f

    def known(name: str) -> str:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for name, f in files.items():
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            if isinstance(node, ast.Import):
                deps |= {known(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if f.name == "__init__.py" else name.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for a in node.names:  # "from package import module" names the module
                    sub = known(f"{module}.{a.name}")
                    deps.add(sub if sub and sub != known(module) else known(module))
        graph[name] = {d for d in deps if d and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_anywhere():
    assert cycles(module_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", ["tamp", "policies", "experiments"])
def test_no_module_over_the_line_limit(package):
    long = {str(f.relative_to(ROOT)): n for f in sorted((ROOT / package).rglob("*.py"))
            if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_architecture_page_names_only_files_that_exist():
    """docs/ARCHITECTURE.md stays true to the code: every file or folder it names in
    backticks exists (a bare ``name.py`` somewhere in the five packages)."""
    import re

    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    names = set(re.findall(r"`([\w./-]+(?:\.py|/))`", text))
    assert len(names) > 20
    modules = {f.name for p in ORDER for f in (ROOT / p).rglob("*.py")}

    def exists(name: str) -> bool:  # from the root, or from a package (geometry/x.py)
        if "/" not in name.rstrip("/") and name in modules:
            return True
        return any((base / name).exists() for base in [ROOT] + [ROOT / p for p in ORDER])

    assert sorted(n for n in names if not exists(n)) == []
