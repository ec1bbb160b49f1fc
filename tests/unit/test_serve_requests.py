"""``rag serve`` given bodies a client gets wrong: each answer is a 400 whose one sentence says what
to send (the real app over a small index, in-process ASGI, no sockets)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from rag.assistant import Assistant
from rag.settings import MAX_K, Settings
from rag.tokens import count_tokens
from tests.fakes import WordEmbedder
from ui.serve.app import create_app
from ui.serve.config import ServeConfig

QUESTION = "what did Zelenskyy reject?"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> object:
    folder = tmp_path_factory.mktemp("serve")
    docs = folder / "docs"
    docs.mkdir()
    (docs / "peace.txt").write_text("Zelenskyy rejected the proposal to cede territory. "
                                    "He offered a ceasefire along the current line instead.")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=folder / "none.toml")
    settings = settings.replace(index_dir=folder / "index")
    assistant = Assistant(settings=settings, embedder=WordEmbedder())
    assistant.add(docs)
    return create_app(ServeConfig(settings), assistant=assistant)


def _post(app: object, path: str, content: bytes, content_type: str | None) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"Content-Type": content_type} if content_type else {}
            return await client.post(path, content=content, headers=headers)

    return asyncio.run(send())


def _error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert isinstance(message, str) and "\n" not in message
    return message


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/chat/completions"])
def test_a_body_that_is_not_json_says_so(app: object, path: str) -> None:
    message = _error(_post(app, path, b'{"question": "why?",}', "application/json"))
    assert message.startswith("the request body is not valid JSON") and "position 20" in message
    message = _error(_post(app, path, b'{"question": "caf\xe9"}', "application/json"))
    assert message.startswith("the request body is not valid JSON")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_json_sent_with_another_content_type_names_the_header(app: object, content_type: str) -> None:
    message = _error(_post(app, "/v1/ask", b'{"question": "why?"}', content_type))
    assert "Content-Type: application/json" in message and content_type in message


def test_json_that_is_not_an_object_says_what_is_expected(app: object) -> None:
    assert _error(_post(app, "/v1/ask", b'["why?"]', "application/json")) == "the request body must be a JSON object"


def test_a_source_that_is_not_indexed_is_a_400_not_a_refusal(app: object) -> None:
    body = b'{"question": "what did Zelenskyy reject?", "sources": ["/nowhere/peace.txt"]}'
    assert "'/nowhere/peace.txt' is not an indexed file" in _error(_post(app, "/v1/ask", body, "application/json"))


def test_a_good_body_is_answered(app: object) -> None:
    response = _post(app, "/v1/ask", b'{"question": "what did Zelenskyy reject?"}', "application/json")
    assert response.status_code == 200 and not response.json()["refused"]
    source = response.json()["citations"][0]["source"]
    assert Path(source).name == "peace.txt"


def test_a_streamed_chat_with_an_unindexed_source_is_refused_before_the_stream(app: object) -> None:
    body = (b'{"model": "docs", "stream": true, "sources": ["nope.txt"], '
            b'"messages": [{"role": "user", "content": "what did Zelenskyy reject?"}]}')
    response = _post(app, "/v1/chat/completions", body, "application/json")
    assert response.headers["content-type"].startswith("application/json")  # a status line, not an SSE error
    assert "'nope.txt' is not an indexed file" in _error(response)


def test_a_chat_with_stream_null_is_answered_whole(app: object) -> None:
    # OpenAI's API takes "stream": null as false; some clients send every unset option as null.
    body = b'{"model": "docs", "stream": null, "messages": [{"role": "user", "content": "what did Zelenskyy reject?"}]}'
    response = _post(app, "/v1/chat/completions", body, "application/json")
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "chat.completion"


def _chat(app: object, **fields: object) -> httpx.Response:
    body = {"model": "docs", "messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": QUESTION}], **fields}
    return _post(app, "/v1/chat/completions", json.dumps(body).encode(), "application/json")


def _events(response: httpx.Response) -> list[dict[str, object]]:
    lines = [ln[len("data: "):] for ln in response.text.splitlines() if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(ln) for ln in lines[:-1]]


def test_a_chat_completion_counts_its_tokens(app: object) -> None:
    reply = _chat(app)
    assert reply.status_code == 200, reply.text
    usage, text = reply.json()["usage"], reply.json()["choices"][0]["message"]["content"]
    assert usage == {"prompt_tokens": count_tokens("be brief") + count_tokens(QUESTION),
                     "completion_tokens": count_tokens(text),
                     "total_tokens": count_tokens("be brief") + count_tokens(QUESTION) + count_tokens(text)}
    assert usage["completion_tokens"] > 3


def test_a_stream_ends_with_its_usage_only_when_asked(app: object) -> None:
    whole = _chat(app).json()
    asked = _events(_chat(app, stream=True, stream_options={"include_usage": True}))
    last = asked[-1]
    assert last["choices"] == [] and last["usage"] == whole["usage"] and last["id"] == asked[0]["id"]
    assert all(c["usage"] is None for c in asked[:-1]) and asked[-2]["choices"][0]["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in asked[:-1]) == (
        whole["choices"][0]["message"]["content"])
    plain = _events(_chat(app, stream=True))
    assert all("usage" not in c and c["choices"] for c in plain)
    unasked = _events(_chat(app, stream=True, stream_options={"include_usage": False}))
    assert len(unasked) == len(plain)


@pytest.mark.parametrize("stream", [False, True])
def test_more_than_one_choice_is_a_400_naming_n(app: object, stream: bool) -> None:
    reply = _chat(app, n=3, stream=stream)
    assert reply.headers["content-type"].startswith("application/json")  # before any stream
    assert _error(reply).startswith("n must be 1, not 3")
    assert _chat(app, n=1, stream=stream).status_code == 200
    assert _chat(app, n=None).status_code == 200


@pytest.mark.parametrize("stream", [False, None])
def test_stream_options_without_streaming_is_a_400_as_openai_says(app: object, stream: bool | None) -> None:
    # It was accepted and ignored: a client asking for usage that way got a whole completion, no word why.
    reply = _chat(app, stream=stream, stream_options={"include_usage": True})
    assert reply.headers["content-type"].startswith("application/json")
    assert _error(reply).startswith("stream_options is only allowed when stream is true")
    assert _chat(app, stream=stream, stream_options=None).status_code == 200  # null is no options


@pytest.fixture(scope="module")
def big_app(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A collection of more passages than one question can get (``MAX_K``)."""
    folder = tmp_path_factory.mktemp("big")
    docs = folder / "docs"
    docs.mkdir()
    for n in range(MAX_K + 5):
        (docs / f"note-{n}.txt").write_text(f"Note {n} says the reservoir number {n} holds {n * 7} litres.")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=folder / "none.toml")
    assistant = Assistant(settings=settings.replace(index_dir=folder / "index"), embedder=WordEmbedder())
    assistant.add(docs)
    return create_app(ServeConfig(settings.replace(index_dir=folder / "index")), assistant=assistant)


@pytest.mark.parametrize("path", ["/v1/retrieve", "/v1/ask"])
def test_k_above_the_most_retrieval_can_return_is_a_400_naming_it(big_app: object, path: str) -> None:
    body = {"question": "how many litres does reservoir 3 hold?", "k": MAX_K + 1}
    assert _error(_post(big_app, path, json.dumps(body).encode(), "application/json")) == (
        f"k must be at most {MAX_K} (retrieval ranks the best {MAX_K} candidates of each list), not {MAX_K + 1}")
    body["k"] = MAX_K
    reply = _post(big_app, path, json.dumps(body).encode(), "application/json")
    assert reply.status_code == 200, reply.text
    if path == "/v1/retrieve":
        assert len(reply.json()["hits"]) == MAX_K


@pytest.mark.parametrize("path", ["/v1/retrieve", "/v1/ask", "/v1/chat/completions"])
@pytest.mark.parametrize("k", [True, "5", 2.0])
def test_k_that_is_not_a_whole_number_is_a_400(app: object, path: str, k: object) -> None:
    """JSON's true was read as k=1 and "5" as 5 (pydantic's lax ints), where the Python API refuses
    both; a typo'd body then got an answer from one passage without a word."""
    body: dict[str, object] = {"k": k, "question": "what did Zelenskyy reject?"}
    if path == "/v1/chat/completions":
        body = {"k": k, "model": "docs", "messages": [{"role": "user", "content": "what did Zelenskyy reject?"}]}
    assert _error(_post(app, path, json.dumps(body).encode(), "application/json")) == (
        "k: Input should be a valid integer")
