"""Prompt templates as plain ``.txt`` files beside this module, and a tiny loader.

Templates use ``{name}`` placeholders (Python ``str.format`` / LangChain f-string syntax; a
literal brace is written ``{{``). Editing a file changes the prompt; the snapshot tests in
``tests/unit/snapshots/`` show the rendered result and fail on any change.

>>> "{question}" in load("answer_user")
True
>>> sorted(names())
['answer_system', 'answer_user', 'claims', 'condense', 'judge']
"""

from __future__ import annotations

import functools
import string
from importlib import resources


class PromptNotFoundError(LookupError):
    """No template file of that name ships with the package."""


def names() -> list[str]:
    """Names of the templates that ship with the package (file names without ``.txt``)."""
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".txt"))


@functools.cache
def load(name: str) -> str:
    """The template text of ``prompts/<name>.txt``.

    >>> load("condense").splitlines()[-1]
    'Standalone question:'
    """
    path = resources.files(__name__) / f"{name}.txt"
    if not path.is_file():
        raise PromptNotFoundError(f"no prompt template {name!r}; available: {', '.join(names())}")
    return path.read_text(encoding="utf-8")


def variables(name: str) -> set[str]:
    """The placeholders a template expects.

    >>> sorted(variables("answer_user"))
    ['question', 'sources']
    """
    return {field for _, field, _, _ in string.Formatter().parse(load(name)) if field}


def render(name: str, **values: str) -> str:
    """The template with its placeholders filled (values are inserted as they are, never re-parsed).

    >>> render("answer_user", sources="<source id=\\"1\\">x</source>", question="Why?").splitlines()[-1]
    'Question: Why?'
    """
    missing = variables(name) - set(values)
    if missing:
        raise KeyError(f"prompt {name!r} needs: {', '.join(sorted(missing))}")
    return load(name).format(**values)
