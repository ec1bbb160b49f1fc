"""OpenAI chat completions, as values: request messages in, completion or stream chunks out.

The message content is the checked answer's text with its ``[n]`` markers; the checked
citations travel in the extension field ``rag`` (top level of the completion, and of the last
stream chunk), which OpenAI clients keep and other clients ignore::

    "rag": {"citations": [{"n": 1, "source": "...", "page": 2, "quote": "...", "support": "supported",
                           "score": 0.91, "start": 120, "end": 210, ...}],
            "sentences": [...], "refused": false, "refusal_reason": "", "withdrawal": null, "relevance": {...},
            "removed_sentences": [...], "backend": "extractive", "judge": "heuristic:lexical+minilm"}

A stream carries the answer only once it has been checked (a refusal or a strict-mode removal
cannot be taken back after it was shown), as role, content and finish chunks, then ``[DONE]``.

``usage`` counts tokens as OpenAI does, with tiktoken's ``cl100k_base``: ``prompt_tokens`` the
text of the request's messages, ``completion_tokens`` the answer's text (the passages rag read
are not counted: the client sent none of them and received none but the quotes). A stream sends
it as OpenAI does when asked with ``stream_options: {"include_usage": true}``: ``"usage": null``
on every chunk, then one more chunk with no choices and the usage, before ``[DONE]``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from rag.records import Answer
from rag.tokens import count_tokens
from ui.serve.errors import ApiError
from ui.serve.schemas import MAX_HISTORY, MAX_QUESTION

_PIECE = re.compile(r"\S+\s*|\s+")
WORDS_PER_CHUNK = 8


def message_text(content: object) -> str:
    """The text of a message's ``content``: a string, or a list of parts of which ``text`` ones count.

    >>> message_text([{"type": "text", "text": "what did"}, {"type": "image_url"}, {"type": "text", "text": "he say?"}])
    'what did he say?'
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise ApiError(400, "messages[].content must be a string or a list of content parts")


def question_and_history(messages: Sequence[Any]) -> tuple[str, list[str]]:
    """The last user message is the question; the earlier user messages are the conversation's history.

    >>> from types import SimpleNamespace as M
    >>> question_and_history([M(role="system", content="be brief"), M(role="user", content="who rejected it?"),
    ...                       M(role="assistant", content="Zelenskyy [1]."), M(role="user", content="why?")])
    ('why?', ['who rejected it?'])
    """
    asked = [message_text(m.content).strip() for m in messages if m.role == "user"]
    if not asked:
        raise ApiError(400, "messages must contain a user message with text")
    if not asked[-1]:  # an image or blank line alone: not the previous question again
        raise ApiError(400, "the last user message has no text; rag answers questions written as text")
    if len(asked[-1]) > MAX_QUESTION:  # as /v1/ask: an 850 KB message took 7 s of CPU to refuse
        raise ApiError(400, f"the last user message is {len(asked[-1])} characters long; a question may have at "
                            f"most {MAX_QUESTION}")
    # Earlier messages only help condense a follow-up: the last 50, each cut to a question's length.
    return asked[-1], [q[:MAX_QUESTION] for q in asked[:-1] if q][-MAX_HISTORY:]


def check_n(n: int | None) -> None:
    """Refuse ``n`` other than 1 (null is 1, as in OpenAI's API), as llama.cpp's server does.

    Why not return n choices, as OpenAI and vLLM do? Their n samples differ; rag's answer is
    checked and, with the extractive answerer, deterministic: n choices would be n copies of one
    answer, which a client asking for alternatives would take for agreement between them. Saying so
    is more honest than repeating it, and cheaper than answering n times with an LLM backend.

    >>> check_n(None), check_n(1)
    (None, None)
    >>> check_n(3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ui.serve.errors.ApiError: n must be 1, not 3: rag gives one checked answer per question (the same question ...
    """
    if n is not None and n != 1:
        raise ApiError(400, f"n must be 1, not {n}: rag gives one checked answer per question (the same question "
                            "gets the same answer), so ask again for another")


def check_stream_options(stream: bool | None, stream_options: object) -> None:
    """Refuse ``stream_options`` on a request that is not streamed, as OpenAI does (it was ignored,
    so a client asking for usage that way got none and no word why).

    >>> check_stream_options(True, {"include_usage": True}), check_stream_options(None, None)
    (None, None)
    >>> check_stream_options(False, {"include_usage": True})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ui.serve.errors.ApiError: stream_options is only allowed when stream is true; drop it or set "stream": true
    """
    if stream_options is not None and not stream:
        raise ApiError(400, 'stream_options is only allowed when stream is true; drop it or set "stream": true')


def usage(messages: Sequence[Any], answer: Answer) -> dict[str, int]:
    """OpenAI's ``usage`` for ``answer`` to ``messages`` (counted with tiktoken's ``cl100k_base``).

    >>> from types import SimpleNamespace as M
    >>> usage([M(role="user", content="why?")], M(text="Because. [1]"))
    {'prompt_tokens': 2, 'completion_tokens': 5, 'total_tokens': 7}
    """
    prompt = sum(count_tokens(message_text(m.content)) for m in messages)
    completion = count_tokens(answer.text)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def rag_extension(answer: Answer) -> dict[str, Any]:
    """The checked citations and verdicts of ``answer`` (the ``rag`` field)."""
    data = answer.to_dict()
    keep = ("citations", "sentences", "removed_sentences", "refused", "refusal_reason", "withdrawal", "relevance",
            "backend", "judge", "standalone_question")
    return {k: data[k] for k in keep}


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(answer: Answer, model: str, counted: dict[str, int] | None = None,
               completion_id: str | None = None) -> dict[str, Any]:
    """A ``chat.completion`` object for ``answer`` (``counted``: its ``usage``)."""
    return {"id": completion_id or new_id(), "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text, "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": counted, "rag": rag_extension(answer)}


def chunks(answer: Answer, model: str, counted: dict[str, int] | None = None,
           completion_id: str | None = None) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a stream: role, text in pieces, then finish with
    ``rag``; with ``counted`` (the client asked for usage) every chunk has ``"usage": null`` and a
    last one with no choices carries it."""
    base: dict[str, Any] = {"id": completion_id or new_id(), "object": "chat.completion.chunk",
                            "created": int(time.time()), "model": model, "system_fingerprint": None}
    if counted is not None:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **extra}

    yield chunk({"role": "assistant", "content": ""})
    pieces = _PIECE.findall(answer.text)
    for i in range(0, len(pieces), WORDS_PER_CHUNK):
        yield chunk({"content": "".join(pieces[i:i + WORDS_PER_CHUNK])})
    yield chunk({}, "stop", rag=rag_extension(answer))
    if counted is not None:
        yield {**base, "choices": [], "usage": counted}


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event: ``data: <json>`` and a blank line (``[DONE]`` is sent as is).

    >>> sse("[DONE]")
    b'data: [DONE]\\n\\n'
    """
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


KEEP_ALIVE = b": keep-alive\n\n"  # an SSE comment: clients ignore it, proxies see the connection is alive
