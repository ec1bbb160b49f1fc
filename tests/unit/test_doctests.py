"""The examples in docstrings are run: documentation that can no longer drift from the code."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                 for package in ("index", "rag", "ui", "evals", "prompts", "bench")
                 for path in (ROOT / package).rglob("*.py") if "datasets" not in path.parts)


def test_every_package_is_found() -> None:
    assert {"rag.assistant", "rag.check.support", "index.store", "evals.metrics", "bench.report"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
