"""``rag serve --workers 2`` over one ``chroma run`` server: a write through one worker is seen by
the other (dense and keyword side), and 40 different questions asked at once over HTTP each get
exactly the answer they get alone."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import EXAMPLE_FILES, EXAMPLES, ROOT, start_chroma_server, stop
from tests.integration.servers import Server, serve_env, start_rag_serve

pytestmark = pytest.mark.integration

KEY = "workers-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
CONCURRENT = 40
NEW_FACT = "The Kallavesi zephyrite mine produced 40 tonnes of ore in its first year."
NEW_QUESTION = "How much ore did the Kallavesi zephyrite mine produce?"


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("workers")
    chroma, chroma_url = start_chroma_server(folder / "chroma")
    try:
        server = start_rag_serve(["--workers", "2", "--chroma-url", chroma_url, "--collection", "shared",
                                  "--index", str(folder / "index")], folder, serve_env(RAG_API_KEYS=KEY),
                                 ready_workers=2)
        try:
            files = [("files", (name, (EXAMPLES / name).read_bytes())) for name in EXAMPLE_FILES]
            reply = httpx.post(f"{server.url}/v1/documents", files=files, headers=AUTH, timeout=300)
            assert reply.status_code == 200 and reply.json()["failed"] == 0, reply.text
            yield server
        finally:
            server.stop()
    finally:
        stop(chroma)


def ask(server: Server, question: str) -> tuple[str, dict[str, Any]]:
    """One question on a new connection (either worker may take it): (worker, answer)."""
    reply = httpx.post(f"{server.url}/v1/ask", json={"question": question}, timeout=120,
                       headers={**AUTH, "Connection": "close"})
    assert reply.status_code == 200, reply.text
    return reply.headers["x-rag-worker"], reply.json()


def signature(answer: dict[str, Any]) -> tuple[object, ...]:
    """Everything a user sees of an answer, and what it was built from."""
    return (answer["question"], answer["text"], answer["refused"],
            tuple((Path(c["source"]).name, c["start"], c["end"], c["n"], c["sentence_index"], c["support"])
                  for c in answer["citations"]),
            tuple((s["text"], tuple(s["citations"]), s["support"]) for s in answer["sentences"]),
            tuple(h["chunk"]["chunk_id"] for h in answer["hits"]),
            (answer["relevance"] or {}).get("answers"))


def until_each_worker(server: Server, question: str, tries: int = 60) -> dict[str, dict[str, Any]]:
    """Ask on new connections until both workers have answered; their answers by worker."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(tries):
        worker, answer = ask(server, question)
        seen.setdefault(worker, answer)
        if len(seen) == 2:
            return seen
    pytest.fail(f"only worker(s) {sorted(seen)} answered in {tries} tries")


def test_an_upload_through_one_worker_is_answerable_through_the_other(workers: Server) -> None:
    before = until_each_worker(workers, NEW_QUESTION)  # both have built their keyword index by now
    assert all(a["refused"] for a in before.values())
    upload = httpx.post(f"{workers.url}/v1/documents", headers={**AUTH, "Connection": "close"},
                        files=[("files", ("zephyrite.md", f"# Zephyrite\n\n{NEW_FACT}\n".encode()))], timeout=120)
    assert upload.json()["files"][0]["status"] == "indexed", upload.text
    writer = upload.headers["x-rag-worker"]
    after = until_each_worker(workers, NEW_QUESTION)
    other = next(w for w in after if w != writer)
    for worker, answer in after.items():
        assert not answer["refused"], (worker, answer["refusal_reason"])
        assert Path(answer["citations"][0]["source"]).name == "zephyrite.md"
        assert "40 tonnes" in answer["text"]
    assert after[other]["text"] == after[writer]["text"]


def test_forty_concurrent_asks_get_the_answers_they_get_alone(workers: Server) -> None:
    cases = [json.loads(line) for line in (ROOT / "evals/datasets/examples.jsonl").read_text().splitlines()]
    questions = [c["question"] for c in cases][:CONCURRENT]
    assert len(set(questions)) == CONCURRENT
    alone = {q: signature(ask(workers, q)[1]) for q in questions}
    barrier = threading.Barrier(CONCURRENT)
    results: dict[str, tuple[str, tuple[object, ...]]] = {}
    errors: list[BaseException] = []

    def one(question: str) -> None:
        try:
            barrier.wait(timeout=60)
            worker, answer = ask(workers, question)
            results[question] = (worker, signature(answer))
        except BaseException as exc:  # reported below, with the question
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    assert len(results) == CONCURRENT
    wrong = [q for q in questions if results[q][1] != alone[q]]
    assert not wrong, f"{len(wrong)} answers differ from asking alone, e.g. {wrong[:3]}"
    served = {w for w, _ in results.values()}
    print(f"{CONCURRENT} concurrent asks in {time.monotonic() - started:.1f} s, served by {len(served)} worker(s)")
    assert sum(bool(a[2]) for a in alone.values()) < CONCURRENT  # real answers, not only refusals
