"""An LLM answer nobody will read stops: the model's stream is closed, so the server stops writing.

A real ``rag serve`` (openai backend) and a real ``Assistant`` over the examples, in front of a slow
OpenAI-compatible server on 127.0.0.1 (``slow_llm``) that records how each answer ended. Before,
every one of these answers was written to its last word: closing a LangChain chain's stream reads
it to the end, and ``rag serve`` noticed neither a non-streaming client that left nor its own 504.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.assistant import Assistant
from tests.integration.conftest import clean_settings
from tests.integration.servers import Server, serve_env, start_rag_serve
from tests.integration.slow_llm import Ended, LLMServer, SilentJudge, SlowLLM, serving

pytestmark = pytest.mark.integration

QUESTION = "What is the Great Barrier Reef?"
TIMEOUT_S = 4  # rag serve's --timeout: well past retrieval, well short of the whole answer
# A model reading a long prompt on a CPU: silent far longer than these tests wait, so an answer that
# was not stopped during the reading fails them (its first word comes, or its end is never seen).
READ_S = 30.0


class _LongLLM(SlowLLM):
    ANSWER = " ".join(["The reef grows slowly. [1]"] * 12)  # 60 words, 0.2 s apart: 12 s
    PAUSE_S = 0.2


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with serving(_LongLLM) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, examples_index: Path, llm: LLMServer) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve-llm")
    shutil.copytree(examples_index, folder / "index")
    env = serve_env(RAG_BACKEND="openai", RAG_LLM_BASE_URL=llm.url, RAG_LLM_MODEL="fake-model")
    running = start_rag_serve(["--index", str(folder / "index"), "--timeout", str(TIMEOUT_S)], folder, env)
    yield running
    running.stop()


@pytest.fixture
def reading(llm: LLMServer) -> Iterator[LLMServer]:
    """The test model, silent for ``READ_S`` seconds before its first word (reading the prompt)."""
    llm.read_s = READ_S
    yield llm
    llm.read_s = 0.0


def _next_end(llm: LLMServer, seen: int) -> Ended:
    """The next answer to end after the ``seen`` ones (bounded: an answer written whole ends in 12 s)."""
    for _ in range(300):
        if len(llm.ended) > seen:
            return llm.ended[seen]
        time.sleep(0.1)
    raise AssertionError(f"no answer ended: {llm.ended}")


def _assert_cut_off(ended: Ended) -> None:
    assert ended.client_left and ended.words_sent < ended.words, ended


def test_closing_ask_stream_stops_the_model(llm: LLMServer, examples_index: Path) -> None:
    settings = clean_settings(examples_index.parent, backend="openai", llm_base_url=llm.url, llm_model="fake-model")
    assistant = Assistant(examples_index, settings=settings)
    seen = len(llm.ended)
    stream = assistant.ask_stream(QUESTION)
    words: list[str] = []
    for piece in stream:  # the first three words ("" comes while the model is silent)
        assert isinstance(piece, str)
        if piece:
            words.append(piece)
        if len(words) == 3:
            break
    stream.close()  # what Stop in the web UI and a streaming client that left do
    _assert_cut_off(_next_end(llm, seen))


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/chat/completions"])
def test_a_client_that_gives_up_on_a_reply_stops_its_answer(server: Server, llm: LLMServer, path: str) -> None:
    body = ({"question": QUESTION} if path == "/v1/ask" else
            {"model": "docs", "messages": [{"role": "user", "content": QUESTION}]})
    seen = len(llm.ended)
    with pytest.raises(httpx.ReadTimeout):  # the client's own timeout: it closes the connection
        httpx.post(f"{server.url}{path}", json=body, timeout=2)
    _assert_cut_off(_next_end(llm, seen))
    reply = httpx.post(f"{server.url}/v1/retrieve", json={"question": QUESTION}, timeout=30)
    assert reply.status_code == 200  # the server goes on


def test_a_streaming_client_that_leaves_stops_its_answer_and_no_error_is_logged(server: Server,
                                                                                llm: LLMServer) -> None:
    seen, begun = len(llm.ended), llm.started
    body = {"model": "docs", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=30) as reply:
        assert reply.status_code == 200
        for _ in range(300):  # until the model writes (keep-alives only come every 10 s)
            if llm.started > begun:
                break
            time.sleep(0.05)
    _assert_cut_off(_next_end(llm, seen))
    assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
    assert "Traceback" not in server.log_tail()  # it logged "Task exception was never retrieved"


def test_an_answer_past_the_servers_timeout_is_a_504_and_stops(server: Server, llm: LLMServer) -> None:
    seen = len(llm.ended)
    reply = httpx.post(f"{server.url}/v1/ask", json={"question": QUESTION}, timeout=60)
    assert reply.status_code == 504 and reply.json()["error"]["type"] == "timeout"
    _assert_cut_off(_next_end(llm, seen))


# ---- stopped while the model is still silent, reading the prompt -----------------------------------------
# Before: the answer's stream sat blocked in its HTTP read until the first word, and a blocked
# generator cannot be closed (Gradio's Stop retried for 60 s, then gave up); the model read on and
# wrote the whole answer. Now the stream gives its reader a turn ("") every quarter second.

def _assert_stopped_silent(ended: Ended) -> None:
    assert ended.client_left and ended.words_sent == 0, ended


@pytest.mark.parametrize("history", [[], ["What is the Great Barrier Reef?"]], ids=["question", "follow-up"])
def test_closing_ask_stream_while_the_model_reads_the_prompt_stops_it(reading: LLMServer, examples_index: Path,
                                                                      history: list[str]) -> None:
    """A follow-up is rewritten by the model first (the condense prompt): stopped there too."""
    settings = clean_settings(examples_index.parent, backend="openai", llm_base_url=reading.url,
                              llm_model="fake-model")
    assistant = Assistant(examples_index, settings=settings)
    seen = len(reading.ended)
    begun = reading.started
    stream = assistant.ask_stream("How long is it?" if history else QUESTION, history=history)
    while reading.started == begun:  # until the model has the prompt (bounded: the stream ends once it writes)
        assert next(stream) == ""  # nothing written yet, and still the reader's turn
    assert next(stream) == ""
    stream.close()
    _assert_stopped_silent(_next_end(reading, seen))


@pytest.mark.parametrize("stream", [False, True], ids=["ask", "streamed-chat"])
def test_a_client_that_leaves_while_the_model_reads_the_prompt_stops_it(server: Server, reading: LLMServer,
                                                                       stream: bool) -> None:
    seen, begun = len(reading.ended), reading.started
    if not stream:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.url}/v1/ask", json={"question": QUESTION}, timeout=2)
        assert reading.started > begun  # the model had the prompt when the client left
    else:
        body = {"model": "docs", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=30) as reply:
            assert reply.status_code == 200
            for _ in range(300):  # until the model has the prompt
                if reading.started > begun:
                    break
                time.sleep(0.05)
    _assert_stopped_silent(_next_end(reading, seen))


def test_closing_ask_stream_while_the_llm_judge_checks_it_stops_the_judges_requests(examples_index: Path) -> None:
    """With ``RAG_JUDGE=llm`` the judge's calls were one blocking batch: Stop waited for every verdict."""
    with serving(SilentJudge) as llm:
        llm.read_s = READ_S  # for the judge's requests only
        settings = clean_settings(examples_index.parent, backend="openai", llm_base_url=llm.url,
                                  llm_model="fake-model", judge="llm")
        assistant = Assistant(examples_index, settings=settings)
        stream = assistant.ask_stream(QUESTION)
        written = ""
        for item in stream:  # bounded: a judge that was never stopped answers after READ_S, and fails this
            assert isinstance(item, str), "the answer was checked: the judge was not silent"
            written += item
            if llm.judged and not item:
                break
        assert "coral reef" in written
        stream.close()
        for _ in range(100):
            if llm.judges_left == llm.judged:
                break
            time.sleep(0.1)
        assert llm.judges_left == llm.judged >= 1
