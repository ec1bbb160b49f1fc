"""The one user-facing error base: every problem a user can fix is a ``RagError``.

Its message is one sentence that says what is wrong and how to fix it; the CLI prints it without a
traceback and exits with ``exit_code``. Anything that is not a ``RagError`` is a bug and keeps its
traceback. Subclasses also derive from the built-in class they always were (``ValueError``,
``RuntimeError``) so callers that caught those still do.

>>> try:
...     raise UsageError("the question is empty")
... except RagError as exc:
...     print(exc, exc.exit_code)
the question is empty 2
"""

from __future__ import annotations


class RagError(Exception):
    """A problem the user can fix, said in one sentence."""

    exit_code = 1


class UsageError(RagError, ValueError):
    """An argument or input the user gave cannot be used (empty question, bad URL, unknown name)."""

    exit_code = 2
