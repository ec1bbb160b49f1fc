"""Closing an LLM answer's stream stops reading the model's stream, so the model stops writing.

LangChain's ``(prompt | model | StrOutputParser()).stream`` reads the model's stream to its end when
it is closed early (langchain-core 1.8), so Stop in the web UI, and a client of ``rag serve`` that
left, waited for the whole answer; Gradio closes the generator on its event loop, which froze every
page of the UI meanwhile (8.7 s measured)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.outputs import ChatGenerationChunk

from index.records import Chunk
from rag.answer.llm import LLMConfig, LLMGenerator
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
