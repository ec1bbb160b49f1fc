"""Per-browser-session settings and the assistants that serve them.

A page's backend and collection live in its own ``SessionSettings`` (a Gradio ``State``), never on
the shared ``Assistant``: ``Assistants`` hands out one assistant per distinct (backend, collection)
and shares the loaded embedding model, and an LLM backend's generator, between them. ``k``,
strict mode and the document filter travel with each question instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag.settings import Settings

MAX_ASSISTANTS = 16  # distinct (backend, collection) pairs kept open; the oldest unused one is dropped first


@dataclass(frozen=True)
class SessionSettings:
    """What one page chose under Settings; the server's settings fill in the rest.

    >>> s = SessionSettings.from_settings(Settings(collection="papers"))
    >>> (s.backend, s.collection), s.apply_to(Settings()).collection
    (('extractive', 'papers'), 'papers')
    """

    backend: str
    collection: str
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    gguf_path: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionSettings:
        return cls(settings.backend, settings.collection, settings.llm_base_url, settings.llm_model,
                   settings.llm_api_key, settings.gguf_path)

    def apply_to(self, settings: Settings) -> Settings:
        """The server's settings with this session's choices (an unset field clears, not inherits)."""
        import dataclasses

        return dataclasses.replace(settings, backend=self.backend, collection=self.collection,
                                   llm_base_url=self.llm_base_url, llm_model=self.llm_model,
                                   llm_api_key=self.llm_api_key, gguf_path=self.gguf_path)

    @property
    def backend_key(self) -> tuple[str, str | None, str | None, str | None, str | None]:
        return self.backend, self.llm_base_url, self.llm_model, self.llm_api_key, self.gguf_path


MakeAssistant = Callable[[Settings, Any, Any], Any]
"""make(settings, embedder, generator_or_None) -> a new Assistant."""


class Assistants:
    """One assistant per session setting, made on first use and shared by every page that chose it.

    The server's own assistant answers for the server's settings; the others reuse its embedder,
    and assistants of one LLM backend share its generator (a GGUF model is loaded once).
    """

    def __init__(self, default: Any, make: MakeAssistant | None = None) -> None:
        self.default = default
        self.defaults = SessionSettings.from_settings(default.settings)
        self._make = make or _make_assistant
        self._open: OrderedDict[SessionSettings, Any] = OrderedDict({self.defaults: default})
        self._lock = threading.Lock()

    def get(self, session: SessionSettings) -> Any:
        """The assistant for ``session`` (made, not warmed up, when new)."""
        with self._lock:
            if session in self._open:
                self._open.move_to_end(session)
                return self._open[session]
            generator = None
            if session.backend != "extractive":  # the extractive generator is per collection and cheap
                same = [a for s, a in self._open.items() if s.backend_key == session.backend_key]
                generator = same[0].generator if same else None
        made = self._make(session.apply_to(self.default.settings), self.default.embedder, generator)
        with self._lock:
            made = self._open.setdefault(session, made)  # a racing page may have made it first: keep one
            while len(self._open) > MAX_ASSISTANTS:
                oldest = next(s for s in self._open if s != self.defaults)
                del self._open[oldest]
            return made

    def collections(self) -> list[str]:
        """The collections rag wrote in this index (or Chroma server), and the default one."""
        return sorted({*self.default.collections(), self.defaults.collection})


def check_backend_live(settings: Settings) -> None:
    """Ask the backend for real before a page switches to it: the server answers and serves the
    model (OpenAI-compatible ``GET /models``), or the GGUF file loads. Raises ``RagError``."""
    if settings.backend == "extractive":
        return
    from rag.llm.backends import check_backend

    check_backend(settings)


def _make_assistant(settings: Settings, embedder: Any, generator: Any) -> Any:
    from rag.assistant import Assistant

    return Assistant(settings=settings, embedder=embedder, generator=generator)
