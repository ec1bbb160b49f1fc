"""Imports go one way, exactly as DESIGN.md's table says: index <- rag <- ui / evals; prompts stands
alone; ui and evals reach index only through rag. And no package imports another's private
(underscore) names. Checked with ast."""

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
    "ui": {"ui", "rag"},
    "evals": {"evals", "rag"},
}
PACKAGES_CHECKED_FOR_PRIVATE_IMPORTS = (*OURS, "bench")


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
    assert violations("ui", "from index.loaders import load_file\n") == ["line 1: ui imports index"]
    assert violations("evals", "from index.store import ChunkStore\n") == ["line 1: evals imports index"]
    assert violations("evals", "from ui import app\n") == ["line 1: evals imports ui"]
    assert violations("prompts", "import index\n") == ["line 1: prompts imports index"]


def private_imports(package: str, source: str) -> list[str]:
    """``from other.module import _name`` and ``other.module._name`` uses, for any other package of ours."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top != package and top in PACKAGES_CHECKED_FOR_PRIVATE_IMPORTS:
                found += [f"line {node.lineno}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            chain = node.value
            while isinstance(chain, ast.Attribute):
                chain = chain.value
            if isinstance(chain, ast.Name) and chain.id != package and chain.id in PACKAGES_CHECKED_FOR_PRIVATE_IMPORTS:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("package", PACKAGES_CHECKED_FOR_PRIVATE_IMPORTS)
def test_no_package_imports_another_packages_private_names(package: str) -> None:
    problems = [f"{path.relative_to(ROOT)} {problem}" for path in sorted((ROOT / package).rglob("*.py"))
                for problem in private_imports(package, path.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def test_the_private_name_check_sees_both_forms() -> None:
    source = ("from index.embedding import _tokenizer, model\nimport index.store\nindex.store._PAGE\n"
              "from rag import _x\n")
    assert private_imports("bench", source) == ["line 1: index.embedding._tokenizer", "line 4: rag._x",
                                                "line 3: index.store._PAGE"]
    assert private_imports("rag", "from rag.text import _split\n") == []


def test_every_name_imported_from_our_packages_exists() -> None:
    """The bench has no tests of its own and imports lazily inside functions: a name that moved or
    was removed shows up here, not in the middle of a benchmark run."""
    import importlib

    missing = []
    for package in PACKAGES_CHECKED_FOR_PRIVATE_IMPORTS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                        and node.module.split(".")[0] in PACKAGES_CHECKED_FOR_PRIVATE_IMPORTS):
                    continue
                module = importlib.import_module(node.module)
                missing += [f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{a.name}" for a in node.names
                            if not hasattr(module, a.name) and not _is_submodule(node.module, a.name)]
    assert not missing, "\n".join(missing)


def _is_submodule(package: str, name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{package}.{name}") is not None
