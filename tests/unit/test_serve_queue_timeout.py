"""A question waiting for an answer slot longer than ``--timeout`` gets 503 and leaves the queue:
it used to wait with no limit, then take a slot and answer a client that may have left long ago
(the real app over a fake answerer that holds its slot, in-process ASGI, no sockets)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.records import Answer
from rag.settings import Settings
from ui.serve.app import create_app
from ui.serve.config import ServeConfig
from ui.serve.errors import ApiError
from ui.serve.gate import Gate

TIMEOUT_S = 0.2


class _HeldAnswerer:
    """Stands in for ``Assistant``: each answer waits until the test releases it, so the one slot
    stays taken (the bound only keeps a failing test from hanging)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started, self.release = threading.Event(), threading.Event()
        self.asked: list[str] = []

    def _answer(self, question: str) -> Answer:
        self.asked.append(question)
        self.started.set()
        self.release.wait(10)
        return Answer(question=question, text=f"an answer to {question}", sentences=(), citations=(),
                      refused=False, hits=(), backend="fake", judge="fake")

    def ask(self, question: str, **_: Any) -> Answer:
        return self._answer(question)

    def ask_stream(self, question: str, **_: Any) -> Iterator[Any]:
        yield self._answer(question)


def _body(path: str, question: str) -> dict[str, Any]:
    if path == "/v1/ask":
        return {"question": question}
    return {"model": "docs", "stream": True, "messages": [{"role": "user", "content": question}]}


async def _until(condition: Any) -> None:
    """Wait (bounded, so a failing test ends) until ``condition()``; what follows asserts."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/chat/completions"])
def test_a_question_that_waits_past_the_timeout_is_a_503_and_gives_up_its_place(tmp_path: Path, path: str) -> None:
    settings = Settings.load(env={}, config_file="/dev/null").replace(index_dir=tmp_path / "index", collection="docs")
    answerer = _HeldAnswerer(settings)
    app = create_app(ServeConfig(settings, timeout_s=TIMEOUT_S, max_concurrent=1, max_queue=8), assistant=answerer)
    gate: Gate = app.state.rag.answers

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            first = asyncio.ensure_future(client.post(path, json=_body(path, "first")))
            await _until(answerer.started.is_set)  # the only slot is taken
            waited = await client.post(path, json=_body(path, "second"))
            answerer.release.set()
            await first
            await _until(lambda: gate.running == 0)  # the first's thread ended and gave its slot back
            after = await client.post(path, json=_body(path, "third"))
            return waited, after

    waited, after = asyncio.run(scenario())
    assert waited.status_code == 503, waited.text
    assert waited.headers["Retry-After"] == "1" and waited.headers["content-type"].startswith("application/json")
    error = waited.json()["error"]
    assert error["type"] == "server_busy" and error["message"].startswith("the server is busy (")
    assert "\n" not in error["message"]
    assert answerer.asked == ["first", "third"]  # the one that gave up never ran
    assert (gate.running, gate.waiting) == (0, 0)  # no slot lost, no place kept
    assert after.status_code == 200 and "an answer to third" in after.text  # the slot serves the next one


def test_the_gate_gives_up_a_wait_past_its_patience_and_keeps_its_count() -> None:
    release = threading.Event()

    async def scenario() -> tuple[int, list[object], tuple[int, int]]:
        gate = Gate("answers", limit=1, queue=4)
        held = asyncio.ensure_future(gate.run(lambda: release.wait(10), timeout=10))
        await _until(lambda: gate.running == 1)
        with pytest.raises(ApiError) as busy:
            await gate.run(lambda: "never", timeout=0.05)
        release.set()
        done = [await held, await gate.run(lambda: "next", timeout=10)]
        return busy.value.status, done, (gate.running, gate.waiting)

    status, done, counts = asyncio.run(scenario())
    assert status == 503 and done == [True, "next"] and counts == (0, 0)

