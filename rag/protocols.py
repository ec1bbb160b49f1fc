"""The seams of the answer stage: what an embedder, a generator and a support judge must provide
(``Embedder``'s home is ``index.embedding``; it is repeated here for the packages above ``rag``).

Anything with these shapes plugs into ``Assistant`` (``generator=``) and the checker; the records
they exchange live beside them in ``rag.records``. Neither keeps per-call state: one instance
answers many questions at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from index.embedding import Embedder
from rag.records import Draft, Hit, Support

__all__ = ["Embedder", "Generator", "Judge"]


class Generator(Protocol):
    """Produces an answer for ``question`` from numbered ``passages`` (``[1]`` = passages[0]).

    ``stream`` yields text pieces, then (optionally, last) the ``Draft``; a generator that yields
    only text has it parsed for ``[n]`` markers (``rag.check.checker.draft_from_text``).
    """

    name: str

    def stream(self, question: str, passages: Sequence[Hit], question_vector: np.ndarray | None = None
               ) -> Iterator[str | Draft]: ...


class Judge(Protocol):
    """Anything that scores (sentence, cited passage) pairs: the heuristic judge or an LLM judge."""

    name: str

    def check_many(self, pairs: Sequence[tuple[str, str]]) -> list[Support]: ...
