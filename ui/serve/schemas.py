"""Request bodies of the HTTP API (they make the OpenAPI docs at ``/docs``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

MAX_QUESTION = 4000
MAX_HISTORY = 50


class RetrieveRequest(BaseModel):
    """``POST /v1/retrieve``: the passages hybrid retrieval finds."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION, examples=["what did Zelenskyy reject?"])
    k: StrictInt | None = Field(None, description="passages to return, 1 … 50 and at most the collection size "
                          "(default RAG_K)")
    sources: list[str] | None = Field(None, description="only these indexed files (paths as GET /v1/documents "
                                      "lists them)")
    collection: str | None = Field(None, description="default: the server's collection")


class AskRequest(RetrieveRequest):
    """``POST /v1/ask``: a checked answer (``Answer.to_dict()``)."""

    strict: bool | None = Field(None, description="drop sentences their passages do not support")
    history: list[str] = Field(default_factory=list, max_length=MAX_HISTORY,
                               description="earlier questions of the conversation, oldest first (for follow-ups)")


class ChatMessage(BaseModel):
    """One OpenAI chat message; only ``role`` and ``content`` are used."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    """OpenAI's ``stream_options``; only ``include_usage`` is used."""

    model_config = ConfigDict(extra="allow")

    include_usage: bool | None = None


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions`` (OpenAI-compatible). ``model`` names the collection. OpenAI's
    sampling options (temperature, max_tokens …) are accepted and ignored; ``n`` must be 1;
    ``k``, ``strict`` and ``sources`` are rag's own (``extra_body`` in the openai client)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(examples=["docs"])
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool | None = False  # null is false, as in OpenAI's API
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(None, description="choices to return: 1 (one checked answer per question)")
    k: StrictInt | None = Field(None, description="passages to read, 1 … 50 and at most the collection size")
    strict: bool | None = None
    sources: list[str] | None = None
