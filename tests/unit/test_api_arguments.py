"""The Python API checks ``k`` and ``sources`` as the CLI and the HTTP API do (README "Python API"):
a value it cannot use is one sentence, never a silently different question."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from index.ingest import IngestProgress, IngestReport
from rag.assistant import Assistant
from rag.errors import RagError, UsageError
from rag.settings import MAX_K, Settings
from tests.fakes import WordEmbedder

QUESTION = "what did Zelenskyy reject?"


@pytest.fixture
def assistant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "peace.txt").write_text("Zelenskyy rejected the proposal to cede territory. "
                                    "He offered a ceasefire along the current line instead.")
    (docs / "coral.txt").write_text("Coral bleaching happens when the water is too warm. "
                                    "Zelenskyy visited the reef once, and corals expel their algae.")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    monkeypatch.chdir(tmp_path)  # the script's folder: it adds and filters by relative paths
    helper.add("docs/")
    return helper


@pytest.mark.parametrize("k", [0, -3, 2.0])
def test_a_k_below_one_or_not_whole_is_refused_not_replaced_by_the_default(assistant: Assistant, k: int) -> None:
    with pytest.raises(UsageError, match=r"^k must be"):
        assistant.ask(QUESTION, k=k)
    with pytest.raises(UsageError, match=r"^k must be"):
        list(assistant.ask_stream(QUESTION, k=k))
    with pytest.raises(UsageError, match=r"^k must be"):
        assistant.retrieve(QUESTION, k=k)


def test_a_k_above_what_retrieval_can_return_is_refused_everywhere(assistant: Assistant, tmp_path: Path) -> None:
    # Each retriever gives fusion its best MAX_K candidates: a larger k returned anywhere from MAX_K
    # passages to k, depending on how much the lists overlapped, and said nothing.
    expected = rf"^k must be at most {MAX_K} \(retrieval ranks the best {MAX_K} candidates of each list\), not 51$"
    for call in (lambda: assistant.ask(QUESTION, k=MAX_K + 1), lambda: assistant.retrieve(QUESTION, k=MAX_K + 1),
                 lambda: assistant.as_langchain_retriever(k=MAX_K + 1)):
        with pytest.raises(UsageError, match=expected):
            call()
    assert len(assistant.retrieve(QUESTION, k=MAX_K)) == 2  # the collection's two passages
    with pytest.raises(UsageError, match=rf"^setting k \(RAG_K\) must be at most {MAX_K}, not 51$"):
        Settings.load(env={"RAG_K": str(MAX_K + 1)}, config_file=tmp_path / "none.toml")


def test_sources_name_files_by_the_path_they_were_added_with(assistant: Assistant) -> None:
    answer = assistant.ask(QUESTION, sources=["docs/peace.txt"])
    assert not answer.refused and answer.citations
    assert {Path(c.source).name for c in answer.citations} == {"peace.txt"}
    hits = assistant.retrieve(QUESTION, k=2, sources=["docs/coral.txt"])
    assert hits and {Path(h.chunk.source).name for h in hits} == {"coral.txt"}
    lc = assistant.as_langchain_retriever(k=1)
    assert [Path(d.metadata["source"]).name for d in lc.invoke(QUESTION, sources=["docs/coral.txt"])] == ["coral.txt"]


def test_one_source_given_as_a_string_is_one_path(assistant: Assistant) -> None:
    hits = assistant.retrieve(QUESTION, k=2, sources="docs/coral.txt")
    assert hits and {Path(h.chunk.source).name for h in hits} == {"coral.txt"}


def test_a_source_that_is_not_indexed_is_an_error_not_a_refusal(assistant: Assistant) -> None:
    with pytest.raises(UsageError, match=r"'docs/paece\.txt' is not an indexed file"):
        assistant.ask(QUESTION, sources=["docs/peace.txt", "docs/paece.txt"])
    with pytest.raises(UsageError, match="is not an indexed file"):
        assistant.retrieve(QUESTION, sources=["/nowhere/peace.txt"])


def test_the_langchain_retriever_takes_the_same_k_and_sources(assistant: Assistant) -> None:
    with pytest.raises(UsageError, match=r"^k must be at least 1"):
        assistant.as_langchain_retriever(k=0)
    lc = assistant.as_langchain_retriever(k=1, sources="docs/coral.txt")
    assert [Path(d.metadata["source"]).name for d in lc.invoke(QUESTION)] == ["coral.txt"]
    with pytest.raises(UsageError, match="is not an indexed file"):
        lc.invoke(QUESTION, sources=["docs/nope.txt"])


def _add_while_another_adds(first: Callable[[IngestProgress], IngestReport],
                            second: Callable[[], IngestReport]) -> tuple[IngestReport, list[object]]:
    """Run ``first`` and, once it holds the index (its first progress call), ``second`` in another
    thread; return ``first``'s report and what ``second`` gave: its report or the exception it raised."""
    outcome: list[object] = []

    def run_second() -> None:
        try:
            outcome.append(second())
        except Exception as exc:  # the failure these tests are about
            outcome.append(exc)

    thread = threading.Thread(target=run_second)

    def progress(stage: str, path: str, done: int, total: int) -> None:
        if not thread.is_alive() and not outcome:  # once, while the first add holds the index
            thread.start()
            thread.join(timeout=2)  # a second writer that fails does so within the writer lock's 1 s

    report = first(progress)
    thread.join()
    return report, outcome


def test_two_threads_adding_at_once_both_index_their_files(assistant: Assistant, tmp_path: Path) -> None:
    # A script adding folders from a thread pool: the second add waits for the first one in the
    # same process, instead of failing with "the index is being written by process <its own pid>".
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "solar.txt").write_text("Solar panels turn sunlight into electricity.")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "wind.txt").write_text("Wind turbines turn moving air into electricity.")
    first, outcome = _add_while_another_adds(lambda progress: assistant.add("more/", progress=progress),
                                             lambda: assistant.add("other/"))
    assert first.files_added == 1
    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    assert {Path(s).name for s in assistant.sources()} >= {"solar.txt", "wind.txt"}


def test_two_assistants_on_one_index_adding_from_two_threads_both_index_their_files(tmp_path: Path) -> None:
    # As above with one Assistant per thread (a script's worker pool making its own): the second
    # waited 1 s for the file lock its own process held and failed with IndexBusyError.
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    for name, text in (("solar", "Solar panels turn sunlight into electricity."),
                       ("wind", "Wind turbines turn moving air into electricity.")):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(text)
    first_assistant = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    second_assistant = Assistant(str(tmp_path / "index") + "/", embedder=WordEmbedder(), settings=settings)
    first, outcome = _add_while_another_adds(
        lambda progress: first_assistant.add(tmp_path / "solar", progress=progress),
        lambda: second_assistant.add(tmp_path / "wind"))
    assert first.files_added == 1
    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    assert {Path(s).name for s in first_assistant.sources()} == {"solar.txt", "wind.txt"}


def test_an_index_folder_under_home_is_the_one_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As RAG_INDEX=~/index is: Assistant("~/index") made a folder named "~" in the current one.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    helper = Assistant("~/index", embedder=WordEmbedder(), settings=settings)
    assert helper.settings.index_dir == tmp_path / "home" / "index"
    assert (tmp_path / "home" / "index").is_dir() and not (tmp_path / "~").exists()


@pytest.mark.parametrize("question", [None, 42, b"why?"])
def test_a_question_that_is_not_text_is_one_sentence(assistant: Assistant, question: object) -> None:
    # e.g. a script passing row.get("question") from a file where a row lacks it
    with pytest.raises(UsageError, match="the question must be text"):
        assistant.ask(question)  # type: ignore[arg-type]


@pytest.mark.parametrize("question", ["", "   "])
def test_retrieving_for_an_empty_question_is_refused_as_asking_is(assistant: Assistant, question: str) -> None:
    with pytest.raises(UsageError, match="the question is empty"):
        assistant.retrieve(question)
    with pytest.raises(UsageError, match="the question is empty"):
        assistant.as_langchain_retriever(k=1).invoke(question)


def test_the_langchain_retrievers_default_k_fits_a_small_collection(assistant: Assistant) -> None:
    # RAG_K (5) over a two-passage index: the default returns both; a k asked for is still checked.
    assert assistant.settings.k > assistant.store.count() == 2
    assert len(assistant.as_langchain_retriever().invoke(QUESTION)) >= 1
    with pytest.raises(UsageError, match="k must be at most 2"):
        assistant.as_langchain_retriever().invoke(QUESTION, k=5)


def test_one_earlier_question_given_as_a_string_is_one_turn(assistant: Assistant) -> None:
    as_list = assistant.ask("and what did he offer instead?", history=["what did Zelenskyy reject?"])
    as_string = assistant.ask("and what did he offer instead?", history="what did Zelenskyy reject?")
    assert as_string.standalone_question == as_list.standalone_question


def test_an_index_folder_that_cannot_be_made_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not root (or on a read-only mount): making the folder fails; it was a bare PermissionError traceback.
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    real_mkdir = Path.mkdir

    def refused(self: Path, *args: object, **kwargs: object) -> None:
        if self.name == "index":
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", refused)
    with pytest.raises(RagError, match=rf"^cannot create the index folder {tmp_path}/index: permission denied in "
                                       rf"{tmp_path}; give --index a folder you may write to$") as refused_error:
        Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    assert refused_error.value.exit_code == 4
