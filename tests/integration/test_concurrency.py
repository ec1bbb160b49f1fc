"""Many questions at once on one ``Assistant`` get exactly the answers they get alone.

The UI and scripts answer several questions at the same moment on one shared ``Assistant``
(Gradio runs up to 4 answers side by side). Before the answer stage passed everything in values,
pages asking at the same moment got each other's answers (13 of 26 tries). Here 8 threads ask
different questions of the examples at the same instant (a barrier), 10 rounds, rotating who asks
what and whether through ``ask`` or ``ask_stream``; every answer must equal that question's answer
asked alone on a fresh ``Assistant``: text, refusal, each citation's place and verdict, the hits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from index.embedding import MiniLMEmbedder
from rag.assistant import Assistant
from rag.records import Answer
from rag.settings import Settings

pytestmark = pytest.mark.integration

THREADS = 8
ROUNDS = 10
# Different documents, and different passages of one document...
ANSWERABLE = (
    "What did Zelenskyy reject?",
    "Which US envoys are involved in the talks with Zelenskyy?",
    "How many days a week can approved staff work remotely?",
    "How big is the home office stipend?",
    "Why do corals turn white?",
    "How many years until solar panels pay for themselves?",
    "How long does bulk fermentation take?",
)
# ...a question the documents are far from (refused), and a near-topic one (whatever it gets alone).
REFUSED = "What is the boiling point of mercury?"
NEAR_TOPIC = "How much does a home wind turbine cost?"
QUESTIONS = (*ANSWERABLE, NEAR_TOPIC, REFUSED)
# A cache smaller than one answer's passage sentences: threads evict each other's vectors mid-answer.
TINY_CACHE = 24


@dataclass(frozen=True)
class Result:
    """What one ask produced: the answer's identity, and the text streamed before it (None for ``ask``)."""

    signature: tuple[object, ...]
    streamed: str | None


def signature(answer: Answer) -> tuple[object, ...]:
    """Everything a user sees of an answer, and what it was built from."""
    return (
        answer.question,
        answer.text,
        answer.refused,
        tuple((Path(c.source).name, c.start, c.end, c.n, c.sentence_index, c.support) for c in answer.citations),
        tuple((s.text, s.citations, s.support) for s in answer.sentences),
        tuple(h.chunk.chunk_id for h in answer.hits),
        tuple(h.chunk.chunk_id for h in answer.related),
        answer.relevance.answers if answer.relevance else None,  # the "may not answer your question" flag
    )


def ask(assistant: Assistant, question: str, stream: bool) -> Result:
    if not stream:
        return Result(signature(assistant.ask(question)), None)
    pieces: list[str] = []
    answers: list[Answer] = []
    for item in assistant.ask_stream(question):
        if isinstance(item, Answer):
            answers.append(item)
        else:
            assert not answers, "text streamed after the answer"
            pieces.append(item)
    assert len(answers) == 1, f"{len(answers)} answers for one question"
    return Result(signature(answers[0]), "".join(pieces))


def describe(sig: tuple[object, ...], alone: dict[str, Result]) -> str:
    """Name the question whose alone-answer this is, when it is another question's."""
    owners = [q for q, r in alone.items() if r.signature[1:] == sig[1:]]
    return f"the answer to {owners[0]!r}" if owners else f"an answer seen nowhere alone: {sig[1]!r}"


@pytest.fixture(scope="module", params=["auto", "float32"])
def question_embedder(request: pytest.FixtureRequest, embedder: MiniLMEmbedder) -> MiniLMEmbedder:
    """The session's model (``auto``: bfloat16 where the CPU has it) and float32 (CPUs without bfloat16),
    so both kinds of arithmetic are tried on any machine."""
    if request.param == "auto":
        return embedder
    model = MiniLMEmbedder(precision=request.param)
    model.load()
    return model


def test_eight_threads_asking_at_once_get_the_answers_they_get_alone(
        examples_index: Path, question_embedder: MiniLMEmbedder, settings_for: Callable[..., Settings]) -> None:
    def fresh() -> Assistant:
        return Assistant(examples_index, embedder=question_embedder, settings=settings_for(examples_index.parent))

    # Each question alone, on an Assistant that has answered nothing else (cold cache), streamed.
    alone: dict[str, Result] = {}
    for question in QUESTIONS:
        alone[question] = ask(fresh(), question, stream=True)
    assert alone[REFUSED].signature[2] is True
    assert [q for q in ANSWERABLE if alone[q].signature[2]] == [], "answerable questions were refused alone"
    texts = [alone[q].signature[1] for q in ANSWERABLE]
    assert len(set(texts)) == len(texts), "two questions share an answer: a mix-up could not be seen"
    assert len({alone[q].signature[1:] for q in QUESTIONS}) == len(QUESTIONS)
    assert "Donetsk" in str(alone["What did Zelenskyy reject?"].signature[1])
    assert "3 days per week" in str(alone["How many days a week can approved staff work remotely?"].signature[1])

    shared = fresh()
    shared.query_embedder.size = TINY_CACHE
    barrier = threading.Barrier(THREADS, timeout=300)
    results: dict[tuple[int, int], tuple[str, bool, Result]] = {}
    errors: list[str] = []

    def worker(thread: int) -> None:
        try:
            for round_ in range(ROUNDS):
                question = QUESTIONS[(thread + round_) % len(QUESTIONS)]
                stream = thread % 2 == 0  # half the threads stream, as the UI does
                barrier.wait()  # all eight ask at the same moment
                results[(round_, thread)] = (question, stream, ask(shared, question, stream))
        except threading.BrokenBarrierError:
            return  # another thread failed; its error is the one reported
        except BaseException as exc:
            errors.append(f"thread {thread}: {type(exc).__name__}: {exc}")
            barrier.abort()

    pool = [threading.Thread(target=worker, args=(i,), name=f"asker-{i}") for i in range(THREADS)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, "\n".join(errors)
    assert len(results) == THREADS * ROUNDS

    wrong: list[str] = []
    for (round_, thread), (question, stream, got) in sorted(results.items()):
        want = alone[question]
        if got.signature != want.signature:
            wrong.append(f"round {round_} thread {thread} ({'ask_stream' if stream else 'ask'}) asked {question!r} "
                         f"and got {describe(got.signature, alone)}")
        elif stream and got.streamed != want.streamed:
            wrong.append(f"round {round_} thread {thread} asked {question!r}: streamed {got.streamed!r}, "
                         f"alone {want.streamed!r}")
    assert not wrong, f"{len(wrong)} of {len(results)} answers differ from the same question asked alone:\n" + \
        "\n".join(wrong[:20])
    asked = {(question, stream) for question, stream, _ in results.values()}
    assert asked == {(q, s) for q in QUESTIONS for s in (True, False)}
