"""One clear sentence for every way an LLM backend can be misconfigured (no tracebacks for users).

``BackendError`` is re-exported by ``rag.llm.backends``; ``rag.cli`` prints its message as is.
"""

from __future__ import annotations

from index.errors import RagError


class BackendError(RagError, RuntimeError):
    """An LLM backend cannot be used; the message says what is wrong and how to fix it.

    >>> str(BackendError("cannot reach the LLM server at http://127.0.0.1:9/v1: start it."))
    'cannot reach the LLM server at http://127.0.0.1:9/v1: start it.'
    """


def translate_error(exc: BaseException, where: str, model: str) -> BackendError | None:
    """A ``BackendError`` for a known failure of the OpenAI client, or None for anything else.

    ``where`` is the server's base URL (or a description of the local model), ``model`` the
    model name that was asked for.
    """
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on openai
        return None
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"the LLM server at {where} did not answer in time: check that it is running and not "
                            "overloaded, or use a smaller model.")
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(f"cannot reach the LLM server at {where}: start it (for example 'ollama serve' or "
                            "'vllm serve MODEL') or fix the address with RAG_LLM_BASE_URL / --base-url.")
    if isinstance(exc, openai.NotFoundError):
        return BackendError(f"the LLM server at {where} has no model {model!r} (HTTP 404): pick one it serves "
                            f"(GET {where.rstrip('/')}/models) with RAG_LLM_MODEL / --model, and check that the "
                            "base URL ends in /v1.")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return BackendError(f"the LLM server at {where} rejected the API key (HTTP {exc.status_code}): set the right "
                            "key with RAG_LLM_API_KEY.")
    if isinstance(exc, openai.BadRequestError) and "context" in str(exc).lower():
        return BackendError(f"the prompt is longer than the context window of {model!r} at {where}: set "
                            "RAG_LLM_CONTEXT to the model's real window, or ask with fewer passages (RAG_K).")
    if isinstance(exc, openai.APIStatusError):
        detail = " ".join(str(exc).split())[:200]
        return BackendError(f"the LLM server at {where} answered HTTP {exc.status_code} for model {model!r}: "
                            f"{detail}")
    return None
