"""The layers keep to their own state: nothing in ``mars_gym`` or ``agents`` reads or writes
another object's private attributes (``x._name`` for an ``x`` other than ``self`` or
``cls``), so that ``lmm`` can change its internals behind its public methods. (A private
name of an imported module, such as ``argparse._SubParsersAction`` in a type hint, is that
library's business, not state.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def private_reaches(path: Path) -> list[str]:
    """``line: expression`` of each private attribute of another object used in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    modules = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls", *modules):
            continue
        found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("package", ["mars_gym", "agents"])
def test_no_module_reaches_into_another_objects_private_state(package: str) -> None:
    reaches = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / package).rglob("*.py"))
        if (found := private_reaches(path))
    }
    assert reaches == {}


def test_the_check_finds_a_private_reach(tmp_path: Path) -> None:
    module = tmp_path / "reach.py"
    module.write_text(
        "import argparse\n"
        "def f(sim, p: argparse._SubParsersAction):\n"
        "    return sim.markets._markets[0], self._ok\n"
    )
    assert private_reaches(module) == ["3: sim.markets._markets"]
