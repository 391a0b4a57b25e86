"""The package's floors, read from docs/architecture.md, hold in the code: every import of one explorer
package (or top-level module) names a package on a lower floor, and no modules import each other in a
circle. Imports are read with `ast` from every file of explorer/, those inside functions and
`if TYPE_CHECKING:` blocks too (a lazy import is still an arrow)."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
from project_paths import ROOT

PACKAGE = ROOT / "explorer"
FLOORS_DOC = ROOT / "docs" / "architecture.md"


def floors(text: str) -> dict[str, int]:
    """{package: floor} from the doc's list under "## Floors": lines like `3. clinical, expr`."""
    section = text.split("## Floors", 1)[1].split("\n## ", 1)[0]
    found = {}
    for number, names in re.findall(r"^(\d+)\. ([\w, ]+?)(?::|$)", section, flags=re.MULTILINE):
        for name in names.split(","):
            found[name.strip()] = int(number)
    return found


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: Path) -> dict[str, Path]:
    return {module_name(path, package): path for path in sorted(package.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The explorer modules a file imports: `from a.b import c` names a.b.c when that is a module, else a.b."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the file's package upwards
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module)
    return {m for m in found if m.split(".")[0] == "explorer" and m != "explorer"}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(package)
    graph = {name: set() for name in known}
    for name, path in known.items():
        for target in imported(path, name, set(known)):
            while target not in known:  # `import explorer.x.y` of a name inside a module
                target = target.rsplit(".", 1)[0]
            if target != name:
                graph[name].add(target)
    return graph


def part(module: str) -> str:
    """The package (or top-level module) of explorer a module belongs to: explorer.engine.sql -> engine."""
    return module.split(".")[1]


def upward_imports(graph: dict[str, set[str]], floor: dict[str, int]) -> list[str]:
    wrong = []
    for source, targets in graph.items():
        for target in targets:
            a, b = part(source), part(target)
            if a != b and floor[b] >= floor[a]:
                wrong.append(f"{source} (floor {floor[a]}) imports {target} (floor {floor[b]})")
    return sorted(wrong)


def circle(graph: dict[str, set[str]]) -> list[str]:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        return err.args[1]
    return []


@pytest.fixture(scope="module")
def floor() -> dict[str, int]:
    return floors(FLOORS_DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_package_has_a_floor(floor, graph):
    unplaced = sorted({part(m) for m in graph if m != "explorer"} - set(floor))
    assert not unplaced, f"place these in the floor list of docs/architecture.md: {unplaced}"
    assert not set(floor) - {part(m) for m in graph if m != "explorer"}, "the doc lists a package that is gone"


def test_no_import_runs_up_a_floor_or_across_one(floor, graph):
    wrong = upward_imports({m: t for m, t in graph.items() if m != "explorer"}, floor)
    assert not wrong, "imports against docs/architecture.md's floors:\n" + "\n".join(wrong)


def test_no_modules_import_each_other_in_a_circle(graph):
    assert not circle(graph), " -> ".join(circle(graph))


# --- the checks themselves can fail -------------------------------------------------------------------

def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "explorer" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "explorer"


def test_an_import_up_a_floor_and_a_lazy_circle_are_found(tmp_path):
    package = write(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/a.py": "def f():\n    from explorer.high import b  # lazy, still an arrow up\n",
        "high/__init__.py": "",
        "high/b.py": "from ..low import a\n",
        "high/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from explorer.high.d import X\n",
        "high/d.py": "from explorer.high import c\n",
    })
    graph = import_graph(package)
    assert graph["explorer.high.b"] == {"explorer.low.a"}
    assert upward_imports(graph, {"low": 1, "high": 2}) == [
        "explorer.low.a (floor 1) imports explorer.high.b (floor 2)"]
    assert circle({m: t for m, t in graph.items() if m.startswith("explorer.high.")})
    assert upward_imports({"explorer.x.m": {"explorer.y.n"}}, {"x": 2, "y": 2})  # across one floor too


def test_the_floor_list_is_read_from_the_doc():
    text = "intro\n## Floors\n\n2. trial, cohort: the data\n1. errors\n\n## Next\n3. not a floor\n"
    assert floors(text) == {"trial": 2, "cohort": 2, "errors": 1}
