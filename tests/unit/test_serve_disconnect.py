"""An answer nobody will read is stopped: a streaming chat client that disconnects, a client of
``/v1/ask`` or of a chat completion that is not streamed and disconnects, and an answer past
``--timeout`` (504). The model is not left generating for nobody, holding an answer slot and the CPU
(it went on ~9 s after the client left); a question whose client left while it was queued never runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import ui.serve.routes as routes
from rag.records import Answer
from ui.serve.abandoned import enter_for_client, final_answer, run_for_client
from ui.serve.errors import ApiError, ClientGone
from ui.serve.gate import Gate
from ui.serve.openai_chat import KEEP_ALIVE


class _Stream:
    """Stands in for ``Assistant.ask_stream`` on an LLM: pieces, then the checked answer."""

    def __init__(self, answer: Answer, pieces: int, gone: threading.Event | None = None) -> None:
        self.answer, self.pieces, self.gone = answer, pieces, gone
        self.yielded = 0
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        try:
            for _ in range(self.pieces):
                self.yielded += 1
                if self.gone is not None and self.yielded == 2:
                    self.gone.set()  # the client leaves while the second piece is generated
                yield "piece "
            yield self.answer
        finally:
            self.closed = True


def _answer() -> Answer:
    return Answer(question="q", text="piece piece", sentences=[], citations=[], refused=False, hits=[],
                  backend="fake", judge="fake")


def test_the_stream_is_stopped_at_its_next_piece_once_the_client_is_gone() -> None:
    gone = threading.Event()
    stream = _Stream(_answer(), pieces=50, gone=gone)
    iterator = iter(stream)
    with pytest.raises(ClientGone):
        final_answer(iterator, gone)
    assert stream.yielded == 2 and stream.closed  # closing the generator is what stops the LLM's request


def test_a_stream_whose_client_left_before_it_began_is_never_started() -> None:
    gone = threading.Event()
    gone.set()
    stream = _Stream(_answer(), pieces=50)
    with pytest.raises(ClientGone):
        final_answer(iter(stream), gone)
    assert stream.yielded == 0  # no retrieval, nothing sent to a model


def test_a_client_that_stays_gets_the_answer() -> None:
    answer = _answer()
    stream = _Stream(answer, pieces=5)
    assert final_answer(iter(stream), threading.Event()) is answer and stream.closed


def test_leaving_the_event_stream_before_the_answer_marks_the_client_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "KEEP_ALIVE_S", 0.01)
    gone = threading.Event()

    async def leave_after_one_keep_alive() -> bytes:
        never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        events = routes._events(never, "docs", False, gone)
        first = await events.__anext__()
        await events.aclose()  # what Starlette does when the client disconnects
        never.cancel()
        return bytes(first)

    assert asyncio.run(leave_after_one_keep_alive()) == KEEP_ALIVE
    assert gone.is_set()


def test_a_finished_answer_does_not_mark_the_client_gone() -> None:
    gone = threading.Event()

    async def read_all() -> list[bytes]:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_exception(RuntimeError("the model failed"))
        return [bytes(e) async for e in routes._events(done, "docs", False, gone)]

    events = asyncio.run(read_all())
    assert events[-1] == b"data: [DONE]\n\n" and not gone.is_set()


class _Answering:
    """Work as an answer does it: pieces until the answer is done or ``gone`` is set (then it stops)."""

    def __init__(self, gone: threading.Event, pieces: int = 500) -> None:
        self.gone, self.pieces = gone, pieces
        self.started, self.release = threading.Event(), threading.Event()
        self.written = 0

    def __call__(self) -> str:
        self.started.set()
        self.release.wait(10)
        for _ in range(self.pieces):  # 500 pieces of 10 ms: 5 s unless stopped
            if self.gone.is_set():
                raise ClientGone()
            self.written += 1
            threading.Event().wait(0.01)
        return "the answer"


class _Client:
    """The ASGI ``receive`` of a request whose body was read: it waits until the client leaves."""

    def __init__(self) -> None:
        self.left = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}


async def _until(condition: Any) -> None:
    for _ in range(1000):  # bounded, so a failing test ends; what follows asserts
        if condition():
            return
        await asyncio.sleep(0.01)


def test_an_answer_is_stopped_when_its_client_disconnects() -> None:
    gate, gone, client = Gate("answers", limit=1, queue=4), threading.Event(), _Client()
    work = _Answering(gone)
    work.release.set()

    async def scenario() -> None:
        asked = asyncio.ensure_future(run_for_client(gate, work, 30, client.receive, gone))
        await _until(lambda: work.written >= 3)
        client.left.set()
        with pytest.raises(ClientGone):
            await asked
        await _until(lambda: gate.running == 0)

    asyncio.run(scenario())
    assert gone.is_set() and gate.running == 0
    assert work.written < 100  # stopped at its next piece, not run to its 500th


def test_a_client_that_stays_gets_its_answer_and_nothing_is_stopped() -> None:
    gate, gone, client = Gate("answers", limit=1, queue=4), threading.Event(), _Client()
    work = _Answering(gone, pieces=3)
    work.release.set()
    assert asyncio.run(run_for_client(gate, work, 30, client.receive, gone)) == "the answer"
    assert not gone.is_set() and work.written == 3 and gate.running == 0


def test_a_question_whose_client_leaves_while_it_waits_for_a_slot_never_runs() -> None:
    gate = Gate("answers", limit=1, queue=4)
    first_gone, second_gone = threading.Event(), threading.Event()
    first, second = _Answering(first_gone, pieces=1), _Answering(second_gone)
    first_client, second_client = _Client(), _Client()

    async def scenario() -> str:
        running = asyncio.ensure_future(run_for_client(gate, first, 30, first_client.receive, first_gone))
        await _until(first.started.is_set)  # the only slot is taken
        waiting = asyncio.ensure_future(run_for_client(gate, second, 30, second_client.receive, second_gone))
        await _until(lambda: gate.waiting == 1)
        second_client.left.set()
        with pytest.raises(ClientGone):
            await waiting
        await _until(lambda: gate.waiting == 0)  # out of the queue
        first.release.set()
        return await running

    assert asyncio.run(scenario()) == "the answer"
    assert not second.started.is_set() and gate.running == 0 and gate.waiting == 0


def test_an_answer_past_the_timeout_is_a_504_and_stops() -> None:
    gate, gone = Gate("answers", limit=1, queue=4), threading.Event()
    work = _Answering(gone)
    work.release.set()

    async def scenario() -> None:
        with pytest.raises(ApiError) as told:
            await gate.run(work, 0.2, abandon=gone)
        assert told.value.status == 504
        await _until(lambda: gate.running == 0)  # the slot comes back when the thread stops

    asyncio.run(scenario())
    assert gone.is_set() and gate.running == 0 and work.written < 100


def test_a_streamed_question_whose_client_leaves_while_it_waits_never_takes_a_slot() -> None:
    gate = Gate("answers", limit=1, queue=4)
    waiting_client, staying_client = _Client(), _Client()

    async def scenario() -> None:
        await gate.enter(5)  # the only slot is taken
        leaving = asyncio.ensure_future(enter_for_client(gate, 30, waiting_client.receive))
        await _until(lambda: gate.waiting == 1)
        waiting_client.left.set()
        with pytest.raises(ClientGone):
            await leaving
        assert gate.waiting == 0 and gate.running == 1
        staying = asyncio.ensure_future(enter_for_client(gate, 30, staying_client.receive))
        await _until(lambda: gate.waiting == 1)
        gate.leave()  # the answer running ends: the slot goes to the client still there
        await staying
        assert gate.running == 1 and gate.waiting == 0
        gate.leave()

    asyncio.run(scenario())
    assert gate.running == 0


def test_a_client_that_leaves_as_its_slot_comes_free_gives_the_slot_back() -> None:
    gate, client = Gate("answers", limit=1, queue=4), _Client()

    async def scenario() -> None:
        await gate.enter(5)
        entering = asyncio.ensure_future(enter_for_client(gate, 30, client.receive))
        await _until(lambda: gate.waiting == 1)
        gate.leave()  # the slot comes free and the client leaves in the same moment
        client.left.set()
        with pytest.raises(ClientGone):
            await entering

    asyncio.run(scenario())
    assert gate.running == 0 and gate.waiting == 0
