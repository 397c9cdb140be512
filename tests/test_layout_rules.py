"""Rules of the package layout that import-linter does not check (issue 9).

No module imports another module's private name: a helper two modules share is
public in its one home (``ometiff.readers.tiff.READ_ERRORS``, not ``_READ_ERRORS``).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ometiff"


def _private_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ometiff"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
    return found


def test_no_private_name_is_imported_from_another_module() -> None:
    problems = {
        str(path.relative_to(SRC)): hits
        for path in sorted(SRC.rglob("*.py"))
        if (hits := _private_imports(ast.parse(path.read_text("utf-8"))))
    }
    assert problems == {}


def test_the_rule_sees_a_private_import() -> None:
    tree = ast.parse("from ometiff.readers.tiff import _READ_ERRORS, decode\n")
    assert _private_imports(tree) == ["line 1: from ometiff.readers.tiff import _READ_ERRORS"]
