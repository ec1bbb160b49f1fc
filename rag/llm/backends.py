"""LLM backends behind one small interface: settings in, a streaming ``Generator`` out.

- ``openai``: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, LM Studio, OpenAI)
  by base URL, model name and optional API key, through ``langchain_openai.ChatOpenAI``.
- ``gguf``: a local GGUF file through xllamacpp (``rag.llm.gguf``), driven by the same chat model.
- ``extractive`` (the default) lives in ``rag.answer.generators`` and needs no model.

Misconfiguration fails with one ``BackendError`` sentence that says how to fix it: at
construction for a missing file, package or setting; on the first request for a server that is
down or a model it does not serve.

>>> from rag.settings import Settings
>>> make_llm_generator(Settings.load(env={}, backend="gguf", gguf_path="/nope.gguf"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
rag.llm.errors.BackendError: GGUF file /nope.gguf not found: point RAG_GGUF_PATH or --gguf at an existing ...
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from rag.answer.llm import LLMConfig, LLMGenerator
from rag.check.llm_judge import LLMJudge
from rag.check.support import HeuristicJudge
from rag.llm.errors import BackendError, translate_error
from rag.llm.registry import configuration_problem, default_gguf_file
from rag.settings import Settings

__all__ = ["BackendError", "ChatBackend", "LLMConfig", "chat_backend", "check_backend", "config_from",
           "make_llm_generator", "make_llm_judge"]

# Per-backend defaults when the settings do not say: servers usually run bigger models with
# bigger windows; a local GGUF's window costs memory, so it starts smaller.
DEFAULTS = {"openai": LLMConfig(context_window=8192), "gguf": LLMConfig(context_window=4096)}


@dataclass(frozen=True)
class ChatBackend:
    """A LangChain chat model with what error messages and ``Answer.backend`` need to say about it."""

    model: BaseChatModel
    name: str  # "openai:qwen2.5:7b", "gguf:SmolLM2-135M-Instruct.Q4_1"
    where: str  # the server's base URL, or the GGUF file
    model_name: str
    keepalive: object = None


def config_from(settings: Settings, kind: str | None = None) -> LLMConfig:
    """Generation knobs from settings (``RAG_LLM_CONTEXT``, ``RAG_LLM_MAX_TOKENS``, ``RAG_LLM_TEMPERATURE``,
    ``RAG_LLM_TIMEOUT`` where ``rag.settings`` defines them), with per-backend defaults otherwise."""
    base = DEFAULTS.get(kind or settings.backend, LLMConfig())
    context = getattr(settings, "llm_context", None) or base.context_window
    max_tokens = getattr(settings, "llm_max_tokens", None) or base.max_tokens
    temperature = getattr(settings, "llm_temperature", None)
    timeout = getattr(settings, "llm_timeout", None) or base.timeout
    return dataclasses.replace(base, context_window=int(context), max_tokens=int(max_tokens),
                               temperature=base.temperature if temperature is None else float(temperature),
                               timeout=float(timeout))


def openai_chat_model(base_url: str | None, model: str | None, api_key: str | None, config: LLMConfig,
                      **extra: Any) -> BaseChatModel:
    """``ChatOpenAI`` for an OpenAI-compatible server; raises ``BackendError`` on missing settings."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise BackendError("the openai backend needs langchain-openai: pip install 'rag[openai]'.") from None
    # Ollama and LM Studio read max_tokens and ignore max_completion_tokens (which ChatOpenAI
    # sends); OpenAI itself rejects both together, so only other servers get max_tokens too.
    extra_body = {"max_tokens": config.max_tokens} if base_url else None
    return ChatOpenAI(model=model, base_url=base_url, api_key=api_key or "not-needed",  # type: ignore[arg-type]
                      temperature=config.temperature, max_tokens=config.max_tokens,  # type: ignore[call-arg]
                      timeout=config.timeout, max_retries=config.max_retries, streaming=True,
                      extra_body=extra_body, **extra)


def chat_backend(settings: Settings, kind: str | None = None, config: LLMConfig | None = None) -> ChatBackend:
    """The chat model that ``settings`` describe (``kind`` overrides ``settings.backend``)."""
    kind = kind or settings.backend
    problem = configuration_problem(kind, model=settings.llm_model, base_url=settings.llm_base_url,
                                    api_key=settings.llm_api_key, gguf_path=settings.gguf_path)
    if problem:
        raise BackendError(problem)
    config = config or config_from(settings, kind)
    if kind == "openai":
        model = openai_chat_model(settings.llm_base_url, settings.llm_model, settings.llm_api_key, config)
        where = settings.llm_base_url or "https://api.openai.com/v1"
        return ChatBackend(model, f"openai:{settings.llm_model}", where, str(settings.llm_model))
    if kind == "gguf":
        from rag.llm.gguf import local_server

        server = local_server(settings.gguf_path or default_gguf_file() or "", config.context_window)
        model = openai_chat_model(server.base_url, server.alias, server.api_key, config)
        return ChatBackend(model, f"gguf:{server.alias}", str(server.path), server.alias, keepalive=server)
    raise BackendError(f"the {kind} backend is not a language model: set RAG_BACKEND to openai or gguf.")


def make_llm_generator(settings: Settings, config: LLMConfig | None = None) -> LLMGenerator:
    """The streaming generator for ``settings.backend`` (``openai`` or ``gguf``)."""
    config = config or config_from(settings)
    backend = chat_backend(settings, config=config)
    return LLMGenerator(backend.model, backend.name, config, where=backend.where, model_name=backend.model_name,
                        keepalive=backend.keepalive)


def make_llm_judge(settings: Settings, generator: object = None, fallback: HeuristicJudge | None = None) -> LLMJudge:
    """The LLM support judge (``RAG_JUDGE=llm``), reusing ``generator``'s model when it has one.

    With the extractive backend the judge still needs a model: the GGUF file or the server and
    model named in the settings.
    """
    if isinstance(generator, LLMGenerator):
        return LLMJudge(generator.model, generator.model_name, where=generator.where, fallback=fallback)
    kind = settings.backend if settings.backend != "extractive" else \
        "gguf" if settings.gguf_path else "openai" if settings.llm_model else None
    if kind is None:
        raise BackendError("RAG_JUDGE=llm needs a model: set RAG_GGUF_PATH, or RAG_LLM_BASE_URL and RAG_LLM_MODEL.")
    backend = chat_backend(settings, kind)
    return LLMJudge(backend.model, backend.model_name, where=backend.where, fallback=fallback)


def check_backend(settings: Settings) -> str:
    """One line saying the configured backend works (for ``rag doctor``); raises ``BackendError``.

    Asks the server for its model list (OpenAI-compatible ``GET /models``), or loads the GGUF
    file, without generating anything.
    """
    config = config_from(settings)
    backend = chat_backend(settings, config=config)
    if settings.backend == "gguf":
        return (f"{backend.name}: {backend.where} loaded by llama.cpp (xllamacpp), {config.context_window}-token "
                f"window, serving on {backend.keepalive.base_url} (loopback only)")  # type: ignore[attr-defined]
    import openai

    client = openai.OpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key or "not-needed",
                           timeout=10.0, max_retries=0)
    try:
        served = [m.id for m in client.models.list()]
    except Exception as exc:
        translated = translate_error(exc, backend.where, backend.model_name)
        if translated is None:
            raise
        raise translated from exc
    if not served or backend.model_name in served:
        return f"{backend.name} at {backend.where} ({len(served)} model(s) served)"
    # Not listed: servers with one model (llama.cpp) answer to any name, vLLM and Ollama do not.
    try:
        client.chat.completions.create(model=backend.model_name, max_tokens=1,
                                       messages=[{"role": "user", "content": "Say OK."}])
    except openai.NotFoundError:
        shown = ", ".join(served[:8]) + (" …" if len(served) > 8 else "")
        raise BackendError(f"the LLM server at {backend.where} does not serve {backend.model_name!r} (it serves: "
                           f"{shown}): set RAG_LLM_MODEL / --model to one of them.") from None
    except Exception as exc:
        translated = translate_error(exc, backend.where, backend.model_name)
        if translated is None:
            raise
        raise translated from exc
    return f"{backend.name} at {backend.where} (not in its model list, but the server answers to that name)"
