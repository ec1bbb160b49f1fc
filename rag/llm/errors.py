"""One clear sentence for every way an LLM backend can be misconfigured (no tracebacks for users).

``BackendError`` is re-exported by ``rag.llm.backends``; ``rag.cli`` prints its message as is.
"""

from __future__ import annotations

import json
import re

from index.errors import RagError


class BackendError(RagError, RuntimeError):
    """An LLM backend cannot be used; the message says what is wrong and how to fix it.

    >>> str(BackendError("cannot reach the LLM server at http://127.0.0.1:9/v1: start it."))
    'cannot reach the LLM server at http://127.0.0.1:9/v1: start it.'
    """


def translate_error(exc: BaseException, where: str, model: str, *, timeout: float | None = None,
                    started: bool = False) -> BackendError | None:
    """A ``BackendError`` for a known failure of the OpenAI client, or None for anything else.

    ``where`` is the server's base URL (or a description of the local model), ``model`` the
    model name that was asked for, ``timeout`` the seconds waited (``RAG_LLM_TIMEOUT``) and
    ``started`` whether part of the answer had already arrived (a connection lost then is a
    server that broke off, not one that cannot be reached).

    >>> import openai
    >>> print(translate_error(openai.APITimeoutError(request=None), "http://127.0.0.1:11434/v1", "m", timeout=120))
    the LLM server at http://127.0.0.1:11434/v1 sent nothing for 120 s: check that it is running and not overloaded, \
or give a slow model more time with RAG_LLM_TIMEOUT (seconds).
    """
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on openai
        return None
    if isinstance(exc, openai.APITimeoutError):
        waited = f"sent nothing for {timeout:g} s" if timeout else "did not answer in time"
        return BackendError(f"the LLM server at {where} {waited}: check that it is running and not overloaded, or "
                            "give a slow model more time with RAG_LLM_TIMEOUT (seconds).")
    if isinstance(exc, openai.APIConnectionError):
        if started:
            return BackendError(f"the LLM server at {where} broke off its answer (the connection closed mid-stream): "
                                "check the server's log (did it stop or run out of memory?) and ask again.")
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
        window = server_window(str(exc))
        fix = f"set RAG_LLM_CONTEXT / --context to {window} or less" if window else \
            "set RAG_LLM_CONTEXT / --context to the model's real window"
        told = f" (its window is {window} tokens)" if window else ""
        return BackendError(f"the prompt is longer than the context window of {model!r} at {where}{told}: {fix}, "
                            "or ask with fewer passages (RAG_K).")
    if isinstance(exc, openai.APIStatusError):
        detail = " ".join(str(exc).split())[:200]
        return BackendError(f"the LLM server at {where} answered HTTP {exc.status_code} for model {model!r}: "
                            f"{detail}")
    if isinstance(exc, json.JSONDecodeError) or (isinstance(exc, ValueError) and str(exc) in _NO_CHUNKS):
        return BackendError(f"the server at {where} did not answer like an OpenAI-compatible API: check that "
                            "RAG_LLM_BASE_URL / --base-url is its /v1 address (for example http://127.0.0.1:11434/v1 "
                            "for Ollama).")
    return None


# What LangChain raises when a 200 reply held no chat completion (a web page, another API's JSON).
_NO_CHUNKS = {"No generation chunks were returned"}
_WINDOW = re.compile(r"(?:\bn_ctx\W+|maximum context length is |context (?:size|length|window) \(?)(\d{3,7})",
                     re.IGNORECASE)


def server_window(message: str) -> int | None:
    """The context window a server's error message states (llama.cpp, vLLM, OpenAI), or None.

    >>> server_window("request (3031 tokens) exceeds the available context size (2048 tokens), try increasing it")
    2048
    >>> server_window("This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.")
    8192
    >>> server_window("context too long") is None
    True
    """
    match = _WINDOW.search(message)
    return int(match.group(1)) if match else None
