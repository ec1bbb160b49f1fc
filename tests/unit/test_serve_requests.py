"""``rag serve`` given bodies a client gets wrong: each answer is a 400 whose one sentence says what
to send (the real app over a small index, in-process ASGI, no sockets)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from rag.assistant import Assistant
from rag.settings import Settings
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
