"""Stopping an answer while an LLM judge checks its citations (``RAG_JUDGE=llm``).

The judge's calls were one blocking ``batch``: Stop in the web UI, or a client of ``rag serve`` that
left, waited until every verdict had come. They now run on the background loop
(``rag.llm.streaming.stoppable_call``) and the answer's stream yields ``""`` meanwhile."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.outputs import ChatResult

from rag.assistant import Assistant
from rag.check.llm_judge import LLMJudge
from rag.llm.errors import BackendError
from rag.llm.streaming import stoppable_call
from rag.records import Answer
from tests.fakes import word_assistant

QUESTION = "how often are old nightly backups rotated?"


class _SlowJudgeModel(FakeListChatModel):
    """A judge model that has not answered yet (a CPU model reading the passage): it records whether
    its request was cancelled, which closes a real model's HTTP connection."""

    cancelled: Any = None  # a threading.Event
    started: Any = None  # a threading.Event: a request is under way

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable")


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    return word_assistant(tmp_path, {
        "backups.txt": "Nightly backups copy the home folders to the backup disk. "
                       "Old backups are rotated every week so the disk never fills up.",
        "mail.txt": "The mail relay only accepts TLS connections from the office."})


def test_closing_the_answer_while_the_judge_checks_it_cancels_the_judges_calls(assistant: Assistant) -> None:
    model = _SlowJudgeModel(responses=["yes"], cancelled=threading.Event(), started=threading.Event())
    assistant.judge = LLMJudge(model, "slow")
    stream = assistant.ask_stream(QUESTION)
    written = ""
    for item in stream:
        assert not isinstance(item, Answer)  # the judge never answers: no checked answer can come
        written += item
        if model.started.is_set() and item == "":
            break  # the answer is written and the judge is at work: the reader gets turns meanwhile
    assert "rotated" in written
    closing = time.perf_counter()
    stream.close()
    assert time.perf_counter() - closing < 2
    assert model.cancelled.wait(10)


def test_the_judges_verdicts_reach_the_answer(assistant: Assistant) -> None:
    assistant.judge = LLMJudge(FakeListChatModel(responses=["yes"]), "scripted")
    answer = assistant.ask(QUESTION)
    assert not answer.refused and answer.sentences
    assert all(s.support == "supported" for s in answer.sentences)
    assert answer.judge == "llm:scripted"
    assert all(any("model said: yes" in r for r in s.reasons) for s in answer.sentences)
    assistant.judge = LLMJudge(FakeListChatModel(responses=["no"]), "scripted")
    assert assistant.ask(QUESTION).withdrawal == "unsupported"


class _DownModel(FakeListChatModel):
    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        import httpx
        import openai

        request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
        raise openai.APIConnectionError(request=request)


def test_a_judge_whose_server_is_down_is_said_in_one_sentence(assistant: Assistant) -> None:
    assistant.judge = LLMJudge(_DownModel(responses=["yes"]), "judge-model", where="http://127.0.0.1:9/v1")
    with pytest.raises(BackendError, match=re.escape("127.0.0.1:9")):
        assistant.ask(QUESTION)


def test_a_timeout_the_call_raises_is_its_error_not_a_heartbeat() -> None:
    """Regression: ``result(timeout=…)`` took the call's own TimeoutError for "not done yet" and
    yielded ``""`` for ever."""
    async def timing_out() -> None:
        await asyncio.sleep(0.05)
        raise TimeoutError("the judge's server timed out")

    pieces = stoppable_call(timing_out(), heartbeat=0.01)
    with pytest.raises(TimeoutError, match="timed out"):
        for _ in itertools.islice(pieces, 1000):
            pass


def test_a_call_ended_by_keyboardinterrupt_raises_it_here_and_the_loop_lives_on() -> None:
    async def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(itertools.islice(stoppable_call(interrupted(), heartbeat=0.01), 1000))

    async def answered() -> str:
        return "yes"

    def result() -> Generator[str, None, str]:
        return (yield from stoppable_call(answered(), heartbeat=0.01))

    calls = result()
    with pytest.raises(StopIteration) as stopped:
        for _ in range(1000):
            next(calls)
    assert stopped.value.value == "yes"  # the shared loop still runs calls


def test_a_judge_set_by_hand_stays_when_the_generator_changes(assistant: Assistant) -> None:
    judge = LLMJudge(FakeListChatModel(responses=["yes"]), "scripted")
    assistant.judge = judge
    assistant.generator = assistant.generator
    assert assistant.judge is judge
