"""An answer generator on top of any LangChain chat model: the answer prompt's messages, streamed.

It satisfies ``rag.answer.generators.Generator``: ``stream`` yields text whose ``[n]`` markers refer to
``passages[n-1]``; the Assistant parses and checks the citations afterwards, exactly as for the
extractive answerer. ``condense`` rewrites follow-up questions with the condense prompt.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass

import numpy as np
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from index.tokens import count_tokens
from rag.answer.prompting import (
    CountTokens,
    TokenBudget,
    answer_prompt,
    condense_prompt,
    format_history,
    prompt_source_blocks,
    select_sources,
)
from rag.check.checker import draft_from_text
from rag.followup import condense as heuristic_condense
from rag.llm.errors import BackendError, translate_error
from rag.llm.streaming import stoppable_pieces
from rag.records import Draft, Hit
from rag.text import content_words


@dataclass(frozen=True)
class LLMConfig:
    """Generation knobs shared by every backend.

    >>> LLMConfig().temperature
    0.0
    """

    context_window: int = 4096  # tokens the model sees: instructions + sources + question + answer
    max_tokens: int = 512  # answer budget
    temperature: float = 0.0  # answers from documents: no creativity wanted
    timeout: float = 120.0  # seconds the server may stay silent (connecting, reading the prompt, between pieces)
    # No retry: a retried answer would make the user wait twice the timeout for a hung server, and a
    # slow one would start reading the whole prompt again while it still reads the first.
    max_retries: int = 0
    condense_tokens: int = 64

    @property
    def budget(self) -> TokenBudget:
        return TokenBudget(self.context_window, self.max_tokens)


class LLMGenerator:
    """Streams a cited answer from a chat model.

    ``where`` (a base URL, or the GGUF file) and ``model_name`` go into error messages;
    ``keepalive`` holds whatever must live as long as the model (a local GGUF server).

    >>> from langchain_core.language_models import GenericFakeChatModel
    >>> fake = GenericFakeChatModel(messages=iter(["Reefs grow slowly [1]."]))
    >>> gen = LLMGenerator(fake, "fake:demo", LLMConfig(), where="memory", model_name="demo")
    >>> from index.records import Chunk
    >>> hits = [Hit(Chunk("c", "d", "reefs.txt", "Reefs grow slowly.", 0, 18, 0), 1.0, 1)]
    >>> "".join(p for p in gen.stream("How do reefs grow?", hits) if isinstance(p, str))
    'Reefs grow slowly [1].'
    """

    def __init__(self, model: BaseChatModel, name: str, config: LLMConfig, *, where: str, model_name: str,
                 count: CountTokens = count_tokens, keepalive: object = None) -> None:
        self.model = model
        self.name = name
        self.config = config
        self.where = where
        self.model_name = model_name
        self.count = count
        self.keepalive = keepalive
        self.prompt = answer_prompt()
        self.condense_messages = condense_prompt()
        self.condense_model = with_max_tokens(model, config.condense_tokens)

    def inputs(self, question: str, passages: Sequence[Hit]) -> tuple[dict[str, str], list[int]]:
        """The prompt variables, and the 0-based indices of the passages that fit the budget (their
        source numbers are their places in ``passages``, so ``[n]`` still means ``passages[n-1]``)."""
        chosen = select_sources(question, passages, self.config.budget, self.count)
        return {"question": question, "sources": prompt_source_blocks(chosen)}, [i for i, _ in chosen]

    def messages(self, question: str, passages: Sequence[Hit]) -> list[BaseMessage]:
        """The exact messages ``stream`` sends (for tests, debugging and the eval reports)."""
        return self.prompt.format_messages(**self.inputs(question, passages)[0])

    def stream(self, question: str, passages: Sequence[Hit], question_vector: np.ndarray | None = None
               ) -> Iterator[str | Draft]:
        """Text pieces as the model produces them, ``""`` every quarter second while it writes nothing
        (reading the prompt, or pausing: the caller may close the stream there, and the model stops),
        then the text as a ``Draft`` (markers parsed); nothing when no passage fits the window."""
        values, chosen = self.inputs(question, passages)
        if not chosen:
            return
        pieces: list[str] = []
        try:
            # The model's own stream, not ``(prompt | model | StrOutputParser()).stream``: closing a
            # chain's stream early reads the model's stream to its end (langchain-core 1.8's
            # ``_transform_stream_with_config`` catches GeneratorExit, then drains its input for
            # tracing), so Stop, or a client that left, still waited for the whole answer while the
            # model wrote it. Its async stream, so that closing works while the model is still silent
            # (``rag.llm.streaming``): "" pieces while it reads the prompt.
            answer = stoppable_pieces(self.model.astream(self.prompt.format_messages(**values)))
            with closing(answer):  # closed with this generator, not whenever the collector frees it
                for piece in answer:
                    if piece:
                        pieces.append(piece)
                    yield piece
        except Exception as exc:
            translated = translate_error(exc, self.where, self.model_name, timeout=self.config.timeout,
                                         started=bool(pieces))
            if translated is None:
                raise
            raise translated from exc
        yield draft_from_text("".join(pieces), len(passages))

    def condense(self, question: str, history: Sequence[str]) -> str:
        """A standalone version of a follow-up ``question``, written by the model.

        Falls back to the heuristic rewrite (``rag.followup``) when the reply is not a plausible
        rewrite: small models tend to answer the question instead of rewriting it.
        """
        rewriting = self.condense_stream(question, history)
        while True:
            try:
                next(rewriting)
            except StopIteration as done:
                return str(done.value)

    def condense_stream(self, question: str, history: Sequence[str]) -> Generator[str, None, str]:
        """``condense`` as the answer's stream runs it: ``""`` every quarter second while the model
        works (a caller may close it there, and the model stops), returning the rewrite."""
        if not history:
            return question
        messages = self.condense_messages.format_messages(history=format_history(history), question=question)
        reply: list[str] = []
        rewriting = stoppable_pieces(self.condense_model.astream(messages))
        with self._errors(), closing(rewriting):
            for piece in rewriting:
                if piece:
                    reply.append(piece)
                else:
                    yield ""
        rewritten = clean_condensed("".join(reply))
        return rewritten if plausible_rewrite(rewritten, question) else heuristic_condense(question, history)

    def _errors(self) -> _Translate:
        return _Translate(self.where, self.model_name, self.config.timeout)


def with_max_tokens(model: BaseChatModel, limit: int) -> Runnable[LanguageModelInput, BaseMessage]:
    """``model`` with a smaller answer limit for one kind of call (condense, judge).

    ``ChatOpenAI`` sends the limit as ``max_completion_tokens``; for servers other than OpenAI
    ``rag.llm.backends`` also puts ``max_tokens`` in ``extra_body`` (Ollama and LM Studio read only
    that), so the override must change both.
    """
    extra = getattr(model, "extra_body", None)
    if isinstance(extra, dict) and "max_tokens" in extra:
        return model.bind(max_tokens=limit, extra_body={**extra, "max_tokens": limit})
    return model.bind(max_tokens=limit)


class _Translate:
    """Context manager that turns the client's connection/HTTP errors into a ``BackendError``."""

    def __init__(self, where: str, model: str, timeout: float | None = None) -> None:
        self.where = where
        self.model = model
        self.timeout = timeout

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, BackendError):
            return
        translated = translate_error(exc, self.where, self.model, timeout=self.timeout)
        if translated is not None:
            raise translated from exc


_LABEL = re.compile(r"^\s*(standalone question|question|rewritten question)\s*:\s*", re.IGNORECASE)


def clean_condensed(reply: str) -> str:
    """The first non-empty line of the model's reply, without a label or quotes.

    >>> clean_condensed('Standalone question: "What did Zelenskyy offer?"\\nExtra talk.')
    'What did Zelenskyy offer?'
    """
    for line in reply.splitlines():
        line = _LABEL.sub("", line).strip().strip("\"'“”").strip()
        if line:
            return line
    return ""


def plausible_rewrite(rewritten: str, question: str) -> bool:
    """A question (ends with "?"), not much longer than the original, keeping one of its content words.

    >>> plausible_rewrite("How long is the Great Barrier Reef?", "and how long is it?")
    True
    >>> plausible_rewrite("The reef is a marine ecosystem.", "and how long is it?")
    False
    """
    if not rewritten.endswith("?") or len(rewritten) > 3 * len(question) + 200:
        return False
    wanted = content_words(question)
    return not wanted or bool(wanted & content_words(rewritten))
