"""``rag serve`` for real: uvicorn on 127.0.0.1 over a copy of the examples index, driven by the
official ``openai`` client (chat completions, streamed and not) and by httpx (everything else)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from rag.assistant import Assistant
from tests.integration.servers import RAG, Server, serve_env, start_rag_serve

pytestmark = pytest.mark.integration

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "another-key-0123456789abcdef"
MAX_FILE_MB = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, examples_index: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve")
    shutil.copytree(examples_index, folder / "index")
    env = serve_env(RAG_API_KEYS=f"{KEY},{OTHER_KEY}", RAG_MAX_FILE_MB=str(MAX_FILE_MB))
    running = start_rag_serve(["--index", str(folder / "index"), "--ui"], folder, env)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as c:
        yield c


def test_chat_completion_with_the_openai_client(client: openai.OpenAI, examples_assistant: Assistant) -> None:
    completion = client.chat.completions.create(
        model="docs", messages=[{"role": "system", "content": "be brief"},
                                {"role": "user", "content": "What did Zelenskyy reject?"}])
    expected = examples_assistant.ask("What did Zelenskyy reject?")
    message = completion.choices[0].message
    assert message.role == "assistant" and completion.choices[0].finish_reason == "stop"
    assert message.content == expected.text and "[1]" in message.content
    rag = completion.model_extra["rag"]  # type: ignore[index]
    assert not rag["refused"] and rag["citations"]
    assert [(c["n"], c["start"], c["end"], c["support"]) for c in rag["citations"]] == [
        (c.n, c.start, c.end, c.support) for c in expected.citations]
    assert all(Path(c["source"]).name == "ukraine-security-talks.md" for c in rag["citations"])
    usage = completion.usage
    assert usage is not None and usage.completion_tokens > 5 and usage.prompt_tokens > 5
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    with pytest.raises(openai.BadRequestError, match="n must be 1, not 2"):
        client.chat.completions.create(model="docs", n=2, messages=[{"role": "user", "content": "What did he reject?"}])


def test_streamed_chat_completion_with_the_openai_client(client: openai.OpenAI) -> None:
    question = [{"role": "user", "content": "Why do corals turn white?"}]
    whole = client.chat.completions.create(model="docs", messages=question)  # type: ignore[arg-type]
    stream = client.chat.completions.create(model="docs", messages=question, stream=True)  # type: ignore[arg-type]
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3 and chunks[0].choices[0].delta.role == "assistant"
    assert text == whole.choices[0].message.content and "[1]" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    citations = last.model_extra["rag"]["citations"]  # type: ignore[index]
    assert citations and all(Path(c["source"]).name == "coral-reefs.txt" for c in citations)
    assert citations == whole.model_extra["rag"]["citations"]  # type: ignore[index]
    counted = list(client.chat.completions.create(model="docs", messages=question, stream=True,  # type: ignore[arg-type]
                                                  stream_options={"include_usage": True}))
    assert counted[-1].choices == [] and counted[-1].usage == whole.usage
    assert all(c.usage is None for c in counted[:-1]) and all(c.usage is None for c in chunks)


def test_follow_up_uses_the_earlier_user_messages(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="docs", messages=[
        {"role": "user", "content": "What did Zelenskyy reject?"},
        {"role": "assistant", "content": "He refused to give up land. [1]"},
        {"role": "user", "content": [{"type": "text", "text": "and what did he offer instead?"}]}])
    rag = completion.model_extra["rag"]  # type: ignore[index]
    assert "Zelenskyy" in rag["standalone_question"] and not rag["refused"]
    assert "NATO" in (completion.choices[0].message.content or "")


def test_refusal_is_an_answer_with_its_reason(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="docs", messages=[{"role": "user", "content": "What is the boiling point of mercury?"}])
    rag = completion.model_extra["rag"]  # type: ignore[index]
    assert rag["refused"] and rag["refusal_reason"] and completion.choices[0].message.content
    assert rag["withdrawal"] is None  # refused before anything was drafted


def test_models_are_the_collections_and_an_unknown_one_is_404(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["docs"]
    with pytest.raises(openai.NotFoundError, match="no collection 'gpt-4o'"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_wrong_or_missing_keys_get_401(server: Server) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789abcdef"}, {"Authorization": f"Basic {KEY}"}):
        reply = httpx.post(f"{server.url}/v1/ask", json={"question": "What did Zelenskyy reject?"}, headers=headers)
        assert reply.status_code == 401, headers
        assert reply.headers["www-authenticate"] == "Bearer"
        assert reply.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="nope-nope-nope-nope", max_retries=0).models.list()
    second = httpx.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert second.status_code == 200  # any of the keys
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"  # health and docs need no key
    assert "/v1/chat/completions" in httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_ask_and_retrieve(http: httpx.Client, examples_assistant: Assistant) -> None:
    question = "How many days a week can approved staff work remotely?"
    answer = http.post("/v1/ask", json={"question": question, "k": 3}).json()
    expected = examples_assistant.ask(question, k=3).to_dict()
    assert answer["text"] == expected["text"] and answer["citations"] == expected["citations"]
    hits = http.post("/v1/retrieve", json={"question": question, "k": 2}).json()["hits"]
    alone = examples_assistant.retrieve(question, 2)
    assert [h["chunk"]["chunk_id"] for h in hits] == [h.chunk.chunk_id for h in alone]
    assert all(h["dense_score"] is not None for h in hits)
    policy = next(s for s in examples_assistant.sources() if s.endswith("remote-work-policy.docx"))
    coral = next(s for s in examples_assistant.sources() if s.endswith("coral-reefs.txt"))
    filtered = http.post("/v1/retrieve", json={"question": question, "k": 2, "sources": [coral]}).json()["hits"]
    assert {h["chunk"]["source"] for h in filtered} == {coral} != {policy}
    size = examples_assistant.store.count()
    for k, words in ((0, "at least 1"), (size + 1, f"at most {size}"), (-3, "at least 1")):
        reply = http.post("/v1/ask", json={"question": question, "k": k})
        assert reply.status_code == 400 and words in reply.json()["error"]["message"]
    empty = http.post("/v1/ask", json={"question": ""})
    assert empty.status_code == 400 and empty.json()["error"]["message"].startswith("question:")
    assert http.post("/v1/ask", json={"question": "x", "collection": "nope"}).status_code == 404
    bad = http.post("/v1/documents", files=[("files", ("a.md", b"# A"))], data={"collection": "../x"})
    assert bad.status_code == 400 and "not a collection name" in bad.json()["error"]["message"]


def _pdf_truncated() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pa"


def test_uploads_give_a_result_per_file_and_hostile_files_cannot_hurt(http: httpx.Client, server: Server,
                                                                     tmp_path: Path) -> None:
    fact = "The Kallavesi zephyrite mine produced 40 tonnes of ore in its first year."
    files = [
        ("files", ("zephyrite.md", f"# Zephyrite\n\n{fact}\n".encode(), "text/markdown")),
        ("files", ("../../escape.md", b"# Escape\n\nThis file tried to climb out of the upload folder.\n",
                   "text/markdown")),
        ("files", ("tool.exe", b"MZ\x90\x00", "application/octet-stream")),
        ("files", ("big.txt", b"a" * (MAX_FILE_MB * 1024 * 1024 + 10), "text/plain")),
        ("files", ("binary.txt", bytes(range(256)) * 64, "text/plain")),
        ("files", ("empty.txt", b"", "text/plain")),
        ("files", ("broken.pdf", _pdf_truncated(), "application/pdf")),
    ]
    reply = http.post("/v1/documents", files=files)
    assert reply.status_code == 200, reply.text
    outcome = {f["name"]: f for f in reply.json()["files"]}
    assert list(outcome) == [name for _, (name, _, _) in files]  # in upload order
    assert outcome["zephyrite.md"]["status"] == "indexed" and outcome["zephyrite.md"]["passages"] == 1
    escaped = outcome["../../escape.md"]
    assert escaped["status"] == "indexed" and Path(escaped["source"]).name == "escape.md"
    uploads = Path(outcome["zephyrite.md"]["source"]).parent
    assert Path(escaped["source"]).parent == uploads and uploads.parts[-2:] == ("uploads", "docs")
    assert outcome["tool.exe"]["status"] == "refused" and ".exe is not supported" in outcome["tool.exe"]["error"]
    assert outcome["big.txt"]["status"] == "refused" and "more than the limit" in outcome["big.txt"]["error"]
    for name in ("binary.txt", "empty.txt", "broken.pdf"):
        assert outcome[name]["status"] == "failed" and outcome[name]["error"], name
    assert sorted(p.name for p in uploads.iterdir()) == ["escape.md", "zephyrite.md"]  # failures are not kept
    answer = http.post("/v1/ask", json={"question": "How much ore did the zephyrite mine produce?"}).json()
    assert not answer["refused"] and answer["citations"][0]["source"] == outcome["zephyrite.md"]["source"]
    listed = {d["id"]: d for d in http.get("/v1/documents").json()["documents"]}
    doc_id = outcome["zephyrite.md"]["id"]
    assert listed[doc_id]["name"] == "zephyrite.md"
    assert http.delete(f"/v1/documents/{doc_id}").json()["removed_passages"] == 1
    assert http.delete(f"/v1/documents/{outcome['../../escape.md']['id']}").status_code == 200
    assert http.delete(f"/v1/documents/{doc_id}").status_code == 404
    assert http.post("/v1/ask", json={"question": "How much ore did the zephyrite mine produce?"}).json()["refused"]
    assert not list(uploads.iterdir())


def test_body_and_upload_limits_are_json_413(http: httpx.Client) -> None:
    big = http.post("/v1/ask", content=json.dumps({"question": "x" * (2 * 1024 * 1024)}),
                    headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and "larger than the limit" in big.json()["error"]["message"]
    # No Content-Length (chunked): counted as it arrives.
    chunked = http.post("/v1/ask", content=iter([b"{" + b" " * 600_000, b" " * 600_000 + b"}"]),
                        headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert http.post("/v1/documents", files=[("files", ("a.md", b"x"))] * 21).status_code == 400


def test_web_ui_is_mounted_without_bearer_keys(server: Server) -> None:
    page = httpx.get(f"{server.url}/ui/", follow_redirects=True, timeout=60)
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_unsafe_deployments_refuse_to_start(tmp_path: Path) -> None:
    import subprocess

    cases = [
        (["--host", "0.0.0.0"], {}, "without API keys"),
        (["--host", "0.0.0.0"], {"RAG_API_KEYS": "short"}, "at least 16 characters"),
        (["--workers", "2"], {}, "needs a Chroma server"),
        (["--host", "0.0.0.0", "--ui"], {"RAG_API_KEYS": KEY}, "RAG_UI_AUTH"),
    ]
    for args, extra, message in cases:
        done = subprocess.run([RAG, "serve", "--index", str(tmp_path / "index"), *args],
                              env=serve_env(**extra), capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "index").exists()  # refused before anything was opened
