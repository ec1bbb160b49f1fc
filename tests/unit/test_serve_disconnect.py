"""A streaming chat client that disconnects stops its answer: the model is not left generating for
nobody, holding an answer slot and the CPU (it went on ~9 s after the client left)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import ui.serve.routes as routes
from rag.records import Answer
from ui.serve.openai_chat import KEEP_ALIVE
from ui.serve.routes import ClientGone, final_answer


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
