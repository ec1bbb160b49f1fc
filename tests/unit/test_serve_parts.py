"""``rag serve``'s pure parts: OpenAI shapes, config round trip, keys, the deployment check, the
gate's queue and timeout, body limits and error mapping (in-process ASGI, no sockets)."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from index.ingest import IngestReport, interrupted
from rag.errors import (
    DiskFullError,
    EmbeddingServerError,
    IndexBusyError,
    IndexDamagedError,
    IndexReadOnlyError,
    StoreUnavailableError,
)
from rag.records import Answer, Citation
from rag.settings import Settings, SettingsError
from ui.serve import openai_chat
from ui.serve.config import ServeConfig, deployment_problem, load_keys
from ui.serve.errors import ApiError, as_api_error, install_handlers
from ui.serve.gate import Gate
from ui.serve.limits import BodyLimit

SETTINGS = Settings.load(env={}, config_file="/dev/null")


def _answer(text: str) -> Answer:
    citation = Citation(n=1, sentence_index=0, chunk_id="c1", source="/docs/a.md", page=None, quote="q", start=0,
                        end=1, support="supported", score=0.9)
    return Answer(question="q?", text=text, sentences=(), citations=(citation,), refused=False, hits=(),
                  backend="extractive", judge="heuristic")


def test_stream_chunks_add_up_to_the_answer_and_end_with_the_citations() -> None:
    text = "Corals expel their algae when the water is too warm. [1]  Then they look white. [1]"
    chunks = list(openai_chat.chunks(_answer(text), "docs"))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == text
    assert len({c["id"] for c in chunks}) == 1 and all(c["object"] == "chat.completion.chunk" for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["rag"]["citations"][0]["source"] == "/docs/a.md"
    assert all("rag" not in c for c in chunks[:-1])
    whole = openai_chat.completion(_answer(text), "docs")
    assert whole["choices"][0]["message"]["content"] == text and whole["rag"] == last["rag"]


def test_a_withdrawn_draft_says_why_in_the_rag_field() -> None:
    withdrawn = replace(_answer("The documents do not say."), refused=True, withdrawal="another_question",
                        refusal_reason="the answer found quotes passages that never mention 'poland'")
    rag = openai_chat.completion(withdrawn, "docs")["rag"]
    assert rag["refused"] and rag["withdrawal"] == "another_question" and "'poland'" in rag["refusal_reason"]
    assert openai_chat.completion(_answer("Corals bleach. [1]"), "docs")["rag"]["withdrawal"] is None


def test_a_chat_needs_a_user_message() -> None:
    with pytest.raises(ApiError, match="user message"):
        openai_chat.question_and_history([])


@pytest.mark.parametrize("last", ["   ", [{"type": "image_url", "image_url": {"url": "data:,"}}]])
def test_a_last_user_message_without_text_is_not_answered_with_the_one_before(last: object) -> None:
    # An image sent alone as a follow-up: answering the previous question again would look like an answer to it.
    from types import SimpleNamespace as M

    messages = [M(role="user", content="what did Zelenskyy reject?"), M(role="assistant", content="Territory [1]."),
                M(role="user", content=last)]
    with pytest.raises(ApiError, match="the last user message has no text"):
        openai_chat.question_and_history(messages)


def test_a_chat_question_is_held_to_the_length_of_an_ask_question() -> None:
    # An 850 KB chat message took 7 s of CPU before it was refused; /v1/ask caps a question at 4,000.
    from types import SimpleNamespace as M

    long_history = [M(role="user", content=f"earlier {i} " + "x" * 9000) for i in range(60)]
    question, history = openai_chat.question_and_history([*long_history, M(role="user", content="why?")])
    assert question == "why?" and len(history) == 50 and all(len(h) <= 4000 for h in history)
    assert history[-1].startswith("earlier 59 ")  # the most recent are kept
    with pytest.raises(ApiError, match="at most 4000"):
        openai_chat.question_and_history([M(role="user", content="y" * 4001)])


def test_config_travels_to_workers_as_json_and_keys_are_checked(tmp_path: object) -> None:
    config = ServeConfig(SETTINGS.replace(chroma_url="http://127.0.0.1:8000", k=7), api_keys=frozenset({"a" * 16}),
                         max_queue=3, mount_ui=True)
    assert ServeConfig.from_json(config.to_json()) == config
    assert "aaaa" not in repr(config)  # keys stay out of logs
    with pytest.raises(SettingsError, match="cannot read the API keys file"):
        load_keys(None, "/no/such/keys")


@pytest.mark.parametrize(("host", "workers", "changes", "expected"), [
    ("127.0.0.1", 1, {}, None),
    ("::1", 1, {}, None),
    ("0.0.0.0", 1, {}, "without API keys"),
    ("192.168.1.5", 1, {"api_keys": frozenset({"k" * 16})}, None),
    ("127.0.0.1", 2, {}, "needs a Chroma server"),
    ("127.0.0.1", 2, {"settings": SETTINGS.replace(chroma_url="http://127.0.0.1:8000")}, None),
    ("127.0.0.1", 2, {"settings": SETTINGS.replace(chroma_url="http://h:1"), "mount_ui": True}, "one worker"),
])
def test_deployment_check(host: str, workers: int, changes: dict[str, object], expected: str | None) -> None:
    problem = deployment_problem(host, workers, ServeConfig(SETTINGS).replace(**changes))
    assert (problem is None) if expected is None else (problem is not None and expected in problem)


def test_gate_queues_up_to_its_limit_then_refuses_and_times_out() -> None:
    release = threading.Event()

    async def scenario() -> tuple[list[object], int]:
        gate = Gate("answers", limit=1, queue=1)
        running = asyncio.ensure_future(gate.run(lambda: release.wait(5), timeout=5))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(gate.run(lambda: "second", timeout=5))
        await asyncio.sleep(0.05)
        with pytest.raises(ApiError) as busy:
            await gate.run(lambda: "third", timeout=5)
        release.set()
        done = await asyncio.gather(running, waiting)
        with pytest.raises(ApiError) as slow:
            await gate.run(lambda: threading.Event().wait(0.3), timeout=0.05)
        await asyncio.sleep(0.4)  # the abandoned thread ends and gives its slot back
        done.append(await gate.run(lambda: "after", timeout=5))
        return [*done, busy.value.status, slow.value.status], 0

    results, _ = asyncio.run(scenario())
    assert results == [True, "second", "after", 503, 504]


def _app() -> FastAPI:
    app = FastAPI()
    install_handlers(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/busy")
    async def busy() -> None:
        raise IndexBusyError("the index is being written by process 7; try again when it is done")

    app.add_middleware(BodyLimit, max_bytes=100, upload_bytes=1000, upload_path="/upload")
    return app


def test_body_limit_and_error_shapes() -> None:
    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def stream() -> object:
                for _ in range(3):
                    yield b"x" * 60

            return [await client.post("/echo", content=b"x" * 100), await client.post("/echo", content=b"x" * 101),
                    await client.post("/echo", content=stream()), await client.get("/busy")]

    ok, declared, streamed, busy = asyncio.run(scenario())
    assert ok.json() == {"bytes": 100}
    assert declared.status_code == streamed.status_code == 413
    assert streamed.json()["error"]["type"] == "request_too_large"
    assert busy.status_code == 409 and busy.json()["error"]["message"].startswith("the index is being written")


def test_known_failures_keep_their_sentence() -> None:
    err = as_api_error(StoreUnavailableError("cannot reach the Chroma server at http://h:1"))
    assert (err.status, err.message) == (503, "cannot reach the Chroma server at http://h:1")
    assert as_api_error(RuntimeError("boom")).status == 500
    full = as_api_error(DiskFullError("the disk holding ./index has 2 MB free"))
    assert (full.status, full.message) == (507, "the disk holding ./index has 2 MB free")
    assert as_api_error(IndexReadOnlyError("./index is read-only")).status == 503
    assert as_api_error(IndexDamagedError("run rag repair")).status == 500
    stopped = as_api_error(interrupted(DiskFullError("the disk is full; free some space"), IngestReport()))
    assert stopped.status == 507 and "after 0 files were indexed" in stopped.message
    assert as_api_error(EmbeddingServerError("the embedding server at http://h:1 stopped answering")).status == 503


def test_a_port_in_use_is_one_sentence_and_exit_1_before_the_model_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # uvicorn found it after the model had loaded, logged its own line and exited 3 (the code for a
    # Chroma server that stopped answering).
    import ui.serve.app
    from rag.cli import main

    (tmp_path / "chroma.sqlite3").write_bytes(b"")  # an index folder, as far as the start-up check goes
    loaded: list[bool] = []
    monkeypatch.setattr(ui.serve.app, "create_app", lambda *a, **k: loaded.append(True) or FastAPI())
    monkeypatch.setenv("RAG_API_KEYS", "")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = main(["serve", "--index", str(tmp_path), "--port", str(port)], out=io.StringIO())
    assert code == 1 and not loaded
    assert capsys.readouterr().err.strip() == f"rag serve: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_the_upload_timeout_is_a_flag_that_must_be_above_0(tmp_path: Path) -> None:
    from rag.cli import CommandError, build_parser
    from ui.serve.cli import build_config

    def config(*flags: str) -> ServeConfig:
        args = build_parser().parse_args(["serve", "--index", str(tmp_path), *flags])
        return build_config(args, {})  # type: ignore[no-any-return]

    assert config().upload_timeout_s == 900.0 and config("--upload-timeout", "30").upload_timeout_s == 30.0
    with pytest.raises(CommandError, match=r"^--upload-timeout must be above 0$"):
        config("--upload-timeout", "0")
