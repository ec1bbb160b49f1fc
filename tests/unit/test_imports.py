"""Imports go one way: index <- rag <- ui / evals; prompts stands alone (checked with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("index", "prompts", "rag", "ui", "evals")
ALLOWED: dict[str, set[str]] = {
    "index": {"index"},
    "prompts": {"prompts"},
    "rag": {"rag", "index", "prompts"},
    "ui": {"ui", "rag", "index", "prompts"},
    "evals": {"evals", "rag", "index", "prompts"},
}


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package of ours) for every import, including those inside functions."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their own package
        for name in names:
            top = name.split(".")[0]
            if top in OURS:
                found.append((node.lineno, top))
    return sorted(found)


def violations(package: str, source: str) -> list[str]:
    return [f"line {line}: {package} imports {top}" for line, top in imported_packages(source)
            if top not in ALLOWED[package]]


@pytest.mark.parametrize("package", OURS)
def test_import_direction(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found for {package}"
    problems = [f"{path.relative_to(ROOT)} {problem}" for path in files
                for problem in violations(package, path.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def test_the_checker_sees_every_import_form() -> None:
    source = ("import ui\nfrom evals.metrics import x\nimport os, rag.cli\nfrom . import sibling\n"
              "def f():\n    import ui.render as r\n    from index import loaders\n")
    assert imported_packages(source) == [(1, "ui"), (2, "evals"), (3, "rag"), (6, "ui"), (7, "index")]
    assert violations("rag", source) == ["line 1: rag imports ui", "line 2: rag imports evals",
                                         "line 6: rag imports ui"]
    assert violations("index", "from rag.records import Hit\n") == ["line 1: index imports rag"]
    assert violations("ui", "import evals\n") == ["line 1: ui imports evals"]
    assert violations("evals", "from ui import app\n") == ["line 1: evals imports ui"]
    assert violations("prompts", "import index\n") == ["line 1: prompts imports index"]
