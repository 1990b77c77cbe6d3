"""Imports only point down: the import-linter contracts of pyproject.toml (the layers of docs/architecture.md),
and no import inside a function except of an optional dependency."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

#: Imported where used, each with a comment saying why: dependencies an install may lack.
OPTIONAL = {"wandb", "minari", "rliable", "hydra_plugins"}


def test_the_import_contracts_hold():
    beside_python = Path(sys.executable).with_name("lint-imports")  # this environment's, activated or not
    tool = str(beside_python) if beside_python.exists() else shutil.which("lint-imports") or "lint-imports"
    proc = subprocess.run([tool], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


def function_local_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import inside a function body."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    found += [(inner.lineno, alias.name) for alias in inner.names]
                elif isinstance(inner, ast.ImportFrom):
                    found.append((inner.lineno, inner.module or "."))
    return found


def test_only_optional_dependencies_are_imported_inside_functions():
    found = []
    for file in sorted((REPO / "src" / "genrl").rglob("*.py")):
        lines = file.read_text().splitlines()
        for line, module in function_local_imports(file.read_text()):
            if module.split(".")[0] not in OPTIONAL or "#" not in lines[line - 1]:
                found.append(f"{file.relative_to(REPO)}:{line} imports {module}")
    assert not found, found


def test_a_function_local_import_is_found():
    assert function_local_imports("import os\ndef f():\n    import json\n    from a.b import c\n") == [
        (3, "json"), (4, "a.b"),
    ]  # fmt: skip
