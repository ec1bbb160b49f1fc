"""Closing an LLM answer's stream stops reading the model's stream, so the model stops writing.

LangChain's ``(prompt | model | StrOutputParser()).stream`` reads the model's stream to its end when
it is closed early (langchain-core 1.8), so Stop in the web UI, and a client of ``rag serve`` that
left, waited for the whole answer; Gradio closes the generator on its event loop, which froze every
page of the UI meanwhile (8.7 s measured). And a model still silent (reading a long prompt) is
stopped too: its stream gives the reader a turn while it waits (``rag.llm.streaming``)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from index.records import Chunk
from rag.answer.llm import LLMConfig, LLMGenerator
from rag.llm.streaming import stoppable_pieces
from rag.records import Hit

WORDS = 200


class _CountingModel(GenericFakeChatModel):
    """A chat model that streams ``WORDS`` words and counts those the caller pulled from it."""

    pulled: int = 0
    finished: bool = False

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for chunk in super()._stream(*args, **kwargs):
            self.pulled += 1
            yield chunk
        self.finished = True


def _generator() -> tuple[LLMGenerator, _CountingModel]:
    model = _CountingModel(messages=iter([" ".join(["tide"] * WORDS) + " [1]"]))
    return LLMGenerator(model, "fake:counting", LLMConfig(), where="memory", model_name="counting"), model


HITS = [Hit(Chunk("c", "d", "tides.txt", "Tides follow the Moon.", 0, 22, 0), 1.0, 1)]


def test_closing_the_answer_stream_stops_pulling_from_the_model() -> None:
    generator, model = _generator()
    stream = generator.stream("What causes tides?", HITS)
    pieces = [next(stream) for _ in range(3)]
    stream.close()
    assert all(isinstance(p, str) and p for p in pieces)
    assert not model.finished and model.pulled <= 4  # the three pieces, and at most the one after


def test_an_answer_read_to_its_end_is_the_models_whole_text() -> None:
    generator, model = _generator()
    items = list(generator.stream("What causes tides?", HITS))
    text = "".join(p for p in items if isinstance(p, str))
    assert text == " ".join(["tide"] * WORDS) + " [1]" and model.finished
    assert items[-1].text == text  # the Draft, markers parsed


class _SilentModel(GenericFakeChatModel):
    """A model still reading its prompt: its stream waits for a first word that never comes, and
    records whether it was cancelled (what closes a real model's HTTP connection)."""

    cancelled: Any = None  # a threading.Event, set when the waiting stream is cancelled

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        yield ChatGenerationChunk(message=AIMessageChunk(content="never"))


def test_a_silent_model_gives_the_reader_turns_and_closing_cancels_its_stream() -> None:
    model = _SilentModel(messages=iter([]), cancelled=threading.Event())
    generator = LLMGenerator(model, "fake:silent", LLMConfig(), where="memory", model_name="silent")
    stream = generator.stream("What causes tides?", HITS)
    assert [next(stream) for _ in range(2)] == ["", ""]  # nothing written, and the reader's turn all the same
    stream.close()
    assert model.cancelled.wait(10)


def test_a_silent_model_can_be_stopped_while_it_rewrites_a_follow_up() -> None:
    model = _SilentModel(messages=iter([]), cancelled=threading.Event())
    generator = LLMGenerator(model, "fake:silent", LLMConfig(), where="memory", model_name="silent")
    rewriting = generator.condense_stream("and the Sun?", ["What causes tides?"])
    assert next(rewriting) == ""
    rewriting.close()
    assert model.cancelled.wait(10)


class _BrokenModel(GenericFakeChatModel):
    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content="Tides "))
        raise ValueError("the model broke off")


def test_an_error_of_the_models_stream_reaches_the_reader_after_what_came() -> None:
    stream = stoppable_pieces(_BrokenModel(messages=iter([])).astream("q"))
    assert next(stream) == "Tides "
    with pytest.raises(ValueError, match="broke off"):
        list(stream)


def test_a_forked_child_streams_on_a_loop_of_its_own() -> None:
    """The parent's loop thread is not copied by fork: a child reusing its loop would wait forever."""
    model = GenericFakeChatModel(messages=iter(["Tides follow the Moon."]))
    assert "".join(stoppable_pieces(model.astream("q"))) == "Tides follow the Moon."  # the parent's loop runs
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        text = "".join(stoppable_pieces(GenericFakeChatModel(messages=iter(["Moon."])).astream("q")))
        os._exit(0 if text == "Moon." else 1)
    for _ in range(200):
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        raise AssertionError("the forked child's stream never ended")
    assert os.waitstatus_to_exitcode(status) == 0


class _ExitingModel(GenericFakeChatModel):
    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        raise SystemExit(3)
        yield  # an async generator


def test_a_stream_ended_by_systemexit_raises_it_and_later_streams_still_run() -> None:
    """Only ``Exception`` used to reach the reader: a stream ended otherwise yielded "" for ever, and
    a SystemExit or KeyboardInterrupt on the loop's thread ended the loop every stream shares."""
    with pytest.raises(SystemExit):
        list(stoppable_pieces(_ExitingModel(messages=iter([])).astream("q")))
    model = GenericFakeChatModel(messages=iter(["Tides follow the Moon."]))
    assert "".join(stoppable_pieces(model.astream("q"))) == "Tides follow the Moon."
