"""One ``Assistant`` per collection, made on first use and shared by every request of this worker.

They share the loaded embedding model and an LLM backend's generator (a GGUF model is started
once); the extractive generator looks up its own collection's sentence vectors, so each
collection gets its own. ``Assistant`` keeps no per-call state, so sharing is safe (README "Many questions
at once").
"""

from __future__ import annotations

import threading
from typing import Any

from rag.documents import valid_collection_name
from ui.serve.errors import ApiError


class Collections:
    """The collections of one index (or Chroma server), by name.

    >>> collections = Collections(Assistant("./index"))          # doctest: +SKIP
    >>> collections.get("docs").ask("what did Zelenskyy reject?")  # doctest: +SKIP
    """

    def __init__(self, first: Any) -> None:
        self.default = str(first.settings.collection)
        self._first = first
        self._open: dict[str, Any] = {self.default: first}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Collections written by rag (others on a shared Chroma server are left out)."""
        return sorted({*self._first.collections(), self.default})

    def get(self, name: str | None = None, create: bool = False) -> Any:
        """The ``Assistant`` for ``name`` (default: the configured collection); 404 when it does not
        exist, unless ``create`` (uploads make new collections)."""
        name = name or self.default
        if not valid_collection_name(name):
            raise ApiError(400, f"{name[:80]!r} is not a collection name: use 3 to 512 letters, digits, '.', '_' or "
                           "'-', starting and ending with a letter or digit")
        with self._lock:
            if name in self._open:
                return self._open[name]
        if not create and name not in self.names():
            raise ApiError(404, f"there is no collection {name!r}; GET /v1/models lists them", "not_found_error",
                           "model_not_found")
        from rag.assistant import Assistant

        first = self._first
        shared = first.generator if first.settings.backend != "extractive" else None
        made = Assistant(settings=first.settings.replace(collection=name), embedder=first.embedder,
                         generator=shared)
        with self._lock:
            return self._open.setdefault(name, made)  # a racing request may have made it first: keep one
