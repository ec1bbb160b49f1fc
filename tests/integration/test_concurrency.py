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
from typing import Any

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


# Made-up documents on a topic the examples never touch, for an upload beside the questions.
_KEEPERS = ("Ilse", "Tomas", "Marguerite", "Oskar", "Wen", "Dagny")
_TASKS = ("trimmed the wick", "polished the lens", "logged the barometer", "painted the gallery rail",
          "wound the clockwork", "checked the fog signal")
_WEATHER = ("a westerly gale", "freezing spray", "a week of calm", "sea fog", "hail", "a spring tide")


def _lighthouse_log(n: int) -> str:
    """A lighthouse keeper's log of several paragraphs, different for each ``n``."""
    paragraphs = []
    for day in range(1, 7):
        keeper, task, weather = _KEEPERS[(n + day) % 6], _TASKS[(n * day) % 6], _WEATHER[(n + 2 * day) % 6]
        paragraphs.append(f"Day {day} of station {n}. {keeper} {task} before dusk while {weather} kept the "
                          f"supply boat away. The lamp burned {n + day} litres of paraffin that night, and "
                          f"{keeper} noted {day * n % 17 + 3} ships passing to the north of the reef.")
    return "\n\n".join(paragraphs)


def test_questions_asked_while_this_process_uploads_get_the_answers_they_get_alone(
        index_copy: Path, embedder: MiniLMEmbedder, settings_for: Callable[..., Settings], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``rag ui`` and ``rag serve`` index uploads in the process that answers: the upload's Chroma
    writes go in slices that let the questions reading finish first (``index.questions_first``),
    and the questions asked meanwhile get exactly their answers alone, the upload all of its files."""
    import chromadb.api.models.Collection as chroma_collection

    import index.sentence_store
    import index.store

    def fresh(collection: str = "docs") -> Assistant:
        return Assistant(index_copy, embedder=embedder,
                         settings=settings_for(index_copy.parent, collection=collection))

    alone = {question: ask(fresh(), question, stream=False) for question in ANSWERABLE}
    docs = tmp_path / "upload"
    docs.mkdir()
    for n in range(12):
        (docs / f"station-{n:02d}.txt").write_text(_lighthouse_log(n), encoding="utf-8")
    # Small slices, so this small upload writes in many of them.
    monkeypatch.setattr(index.store, "CHUNK_ROWS_PER_WRITE", 3)
    monkeypatch.setattr(index.sentence_store, "SENTENCE_ROWS_PER_WRITE", 7)
    written: list[tuple[str, int]] = []
    upsert = chroma_collection.Collection.upsert

    def recording_upsert(self: Any, *args: Any, **kwargs: Any) -> Any:
        written.append((self.name, len(kwargs["ids"])))
        return upsert(self, *args, **kwargs)

    monkeypatch.setattr(chroma_collection.Collection, "upsert", recording_upsert)

    asker, uploader = fresh(), fresh("uploads")
    done = threading.Event()
    reports: list[Any] = []
    results: list[tuple[str, Result]] = []
    errors: list[str] = []

    def upload() -> None:
        try:
            reports.append(uploader.add([docs]))
        except BaseException as exc:
            errors.append(f"upload: {type(exc).__name__}: {exc}")
        finally:
            done.set()

    def questions(thread: int) -> None:
        try:
            rounds = 0
            while not done.is_set() or rounds < 1:
                for question in ANSWERABLE[thread:] + ANSWERABLE[:thread]:
                    results.append((question, ask(asker, question, stream=thread % 2 == 0)))
                rounds += 1
        except BaseException as exc:
            errors.append(f"asker {thread}: {type(exc).__name__}: {exc}")

    pool = [threading.Thread(target=upload), *(threading.Thread(target=questions, args=(i,)) for i in range(3))]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=600)
    assert not errors, "\n".join(errors)
    (report,) = reports
    assert report.files_added == 12 and not report.files_failed
    assert uploader.store.count() == report.chunks_added > 0
    wrong = [f"{question!r} got {describe(got.signature, alone)}" for question, got in results
             if got.signature != alone[question].signature]
    assert not wrong, f"{len(wrong)} of {len(results)} answers differ from the same question asked alone:\n" + \
        "\n".join(wrong[:10])
    chunk_writes = [n for name, n in written if name == "uploads"]
    sentence_writes = [n for name, n in written if name != "uploads"]
    assert sum(chunk_writes) == report.chunks_added and max(chunk_writes) == 3
    assert sentence_writes and max(sentence_writes) == 7
