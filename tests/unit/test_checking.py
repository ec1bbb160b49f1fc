"""Cite and check (rag/checking.py) with hand-made hits, and the refusal gate of ``Assistant``."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.records import Chunk
from rag.assistant import Assistant
from rag.check.checker import REFUSAL_TEXT, check_text, looks_like_refusal
from rag.check.support import HeuristicJudge
from rag.records import Answer, Hit
from rag.settings import Settings
from tests.fakes import ScriptedGenerator, WordEmbedder

DOC = ("Coral reefs cover less than one percent of the ocean floor. They host a quarter of all marine species. "
       "Zelenskyy refused to give up any Ukrainian land to Russia. He offered to drop the NATO bid instead. "
       "A 6 kW system costs roughly 12,000 dollars before incentives.")


def hit(rank: int, text: str, source: str = "/docs/mixed.txt") -> Hit:
    start = DOC.index(text)
    chunk = Chunk(f"c{rank}", "d", source, text, start, start + len(text), rank, page=rank)
    return Hit(chunk, score=1.0 / rank, rank=rank, dense_score=0.9 / rank)


REEFS = hit(1, DOC[:DOC.index(" Zelenskyy")], "/docs/reefs.txt")
TALKS = hit(2, DOC[DOC.index("Zelenskyy"):DOC.index(" A 6 kW")], "/docs/talks.md")
SOLAR = hit(3, DOC[DOC.index("A 6 kW"):], "/docs/solar.pdf")
HITS = [REEFS, TALKS, SOLAR]


@pytest.fixture
def judge() -> HeuristicJudge:
    return HeuristicJudge()


def test_sentences_citations_and_quotes(judge: HeuristicJudge) -> None:
    raw = "Zelenskyy refused to give up any Ukrainian land to Russia. [2] Reefs host a quarter of marine species. [1]"
    checked = check_text(raw, HITS, judge)
    assert not checked.refused
    assert [s.support for s in checked.sentences] == ["supported", "supported"]
    # Renumbered in order of first use: passage 2 becomes [1], passage 1 becomes [2].
    assert [s.citations for s in checked.sentences] == [(1,), (2,)]
    assert checked.text == ("Zelenskyy refused to give up any Ukrainian land to Russia. [1] "
                            "Reefs host a quarter of marine species. [2]")
    first, second = checked.citations
    assert (first.n, first.sentence_index, first.source, first.chunk_id, first.page) == (1, 0, "/docs/talks.md",
                                                                                         "c2", 2)
    assert first.quote == "Zelenskyy refused to give up any Ukrainian land to Russia."
    assert second.quote == "They host a quarter of all marine species."
    for citation in checked.citations:
        assert DOC[citation.start:citation.end] == citation.quote  # offsets into the document
        rel = citation.start - citation.passage_start
        assert citation.passage[rel:rel + len(citation.quote)] == citation.quote


def test_uncited_sentence_is_flagged(judge: HeuristicJudge) -> None:
    checked = check_text("Zelenskyy refused to give up any Ukrainian land. [2] This claim cites nothing.", HITS, judge)
    flagged = checked.sentences[1]
    assert (flagged.text, flagged.support, flagged.citations) == ("This claim cites nothing.", "unsupported", ())
    assert flagged.reasons == ("no citation",)
    assert not checked.refused  # one supported sentence is enough


def test_out_of_range_marker_is_a_problem_not_a_citation(judge: HeuristicJudge) -> None:
    checked = check_text("Zelenskyy refused [7].", HITS, judge)
    [sentence] = checked.sentences
    assert sentence.citations == () and sentence.support == "unsupported"
    assert sentence.reasons == ("no citation", "cites [7], but there are only 3 sources")
    assert checked.citations == () and checked.refused


def test_strict_mode_drops_unsupported_and_renumbers(judge: HeuristicJudge) -> None:
    raw = ("A 6 kW system costs roughly 15,000 dollars before incentives. [3] "
           "Zelenskyy offered to drop the NATO bid instead. [2] Unsourced filler.")
    loose = check_text(raw, HITS, judge, strict=False)
    assert [s.support for s in loose.sentences] == ["unsupported", "supported", "unsupported"]
    assert loose.sentences[0].reasons == ("number not in the cited passage: 15000",)
    strict = check_text(raw, HITS, judge, strict=True)
    assert [s.text for s in strict.sentences] == ["Zelenskyy offered to drop the NATO bid instead."]
    assert [s.text for s in strict.removed] == ["A 6 kW system costs roughly 15,000 dollars before incentives.",
                                                "Unsourced filler."]
    assert strict.text == "Zelenskyy offered to drop the NATO bid instead. [1]"
    assert [(c.n, c.source) for c in strict.citations] == [(1, "/docs/talks.md")]


def test_no_supported_sentence_is_a_refusal(judge: HeuristicJudge) -> None:
    checked = check_text("Penguins live in Antarctica. [1] Mercury boils at 357 degrees. [3]", HITS, judge)
    assert checked.refused
    assert all(s.support == "unsupported" for s in checked.sentences)
    assert check_text("", HITS, judge).refused
    assert check_text("Penguins live in Antarctica. [1]", HITS, judge, strict=True).sentences == ()


def test_weak_only_answer_is_a_refusal(judge: HeuristicJudge) -> None:
    checked = check_text("Zelenskyy refused the treaty drafts. [2]", HITS, judge)
    assert [s.support for s in checked.sentences] == ["weak"]
    assert checked.refused


def test_several_markers_best_verdict_wins_and_each_citation_keeps_its_own(judge: HeuristicJudge) -> None:
    checked = check_text("Zelenskyy refused to give up any Ukrainian land [1-2].", HITS, judge)
    [sentence] = checked.sentences
    assert sentence.support == "supported" and sentence.citations == (1, 2)
    assert [(c.source, c.support) for c in checked.citations] == [("/docs/reefs.txt", "unsupported"),
                                                                  ("/docs/talks.md", "supported")]


def test_same_passage_cited_twice_keeps_one_number(judge: HeuristicJudge) -> None:
    checked = check_text("Reefs cover less than one percent of the ocean floor. [1] "
                         "They host a quarter of all marine species. [1]", HITS, judge)
    assert [s.citations for s in checked.sentences] == [(1,), (1,)]
    assert [c.quote for c in checked.citations] == ["Coral reefs cover less than one percent of the ocean floor.",
                                                    "They host a quarter of all marine species."]


@pytest.mark.parametrize(("text", "refusal"), [
    ("The provided documents do not contain that.", True), ("I don't know.", True),
    ("That is not mentioned in the sources.", True), ("Zelenskyy refused to give up land.", False),
])
def test_looks_like_refusal(text: str, refusal: bool) -> None:
    assert looks_like_refusal(text) is refusal


# ---- the refusal gate of Assistant.ask, with an honest fake embedder and a scripted generator ----

@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    (folder / "talks.txt").write_text("Zelenskyy refused to give up any Ukrainian land to Russia.")
    (folder / "reefs.txt").write_text("Coral reefs cover less than one percent of the ocean floor.")
    return folder


def assistant(tmp_path: Path, docs: Path, text: str, threshold: float) -> tuple[Assistant, ScriptedGenerator]:
    generator = ScriptedGenerator(text)
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": str(threshold)}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), generator=generator, settings=settings)
    helper.add(docs)
    return helper, generator


def test_low_top_dense_score_refuses_without_generating(tmp_path: Path, docs: Path) -> None:
    helper, generator = assistant(tmp_path, docs, "Zelenskyy refused to give up any Ukrainian land. [1]", 0.99)
    answer = helper.ask("what did Zelenskyy refuse to give up?")
    assert answer.refused and answer.text == REFUSAL_TEXT
    assert generator.calls == 0
    assert answer.related and answer.related == answer.hits[:3]
    assert answer.sentences == () and answer.citations == ()
    assert max(h.dense_score or 0 for h in answer.hits) < 0.99


def test_score_above_threshold_is_answered_and_checked(tmp_path: Path, docs: Path) -> None:
    helper, generator = assistant(tmp_path, docs, "Zelenskyy refused to give up any Ukrainian land. [1]", 0.1)
    stream = list(helper.ask_stream("what did Zelenskyy refuse to give up?"))
    assert stream[:-1] == ["Zelenskyy", " refused to give up any Ukrainian land. [1]"]
    answer = stream[-1]
    assert isinstance(answer, Answer) and not answer.refused and generator.calls == 1
    assert answer.citations[0].source.endswith("talks.txt") and answer.citations[0].support == "supported"
    assert answer.backend == "scripted" and answer.judge == "heuristic:lexical+minilm"
    assert set(answer.timings) >= {"retrieve", "generate", "check", "total"}


def test_generated_refusal_or_unsupported_text_becomes_a_refusal(tmp_path: Path, docs: Path) -> None:
    helper, _ = assistant(tmp_path, docs, "I don't know from these documents.", 0.0)
    assert helper.ask("what did Zelenskyy refuse to give up?").refused
    helper.generator = ScriptedGenerator("Penguins live in Antarctica. [1]")
    answer = helper.ask("what did Zelenskyy refuse to give up?")
    assert answer.refused and answer.related and answer.text == REFUSAL_TEXT
    # The withdrawn draft stays in ``sentences`` with its verdict and citation; strict mode removes it.
    assert [(s.text, s.support) for s in answer.sentences] == [("Penguins live in Antarctica.", "unsupported")]
    assert [c.support for c in answer.citations] == ["unsupported"] and answer.removed == ()
    strict = helper.ask("what did Zelenskyy refuse to give up?", strict=True)
    assert strict.refused and strict.sentences == () and strict.citations == ()
    assert [s.text for s in strict.removed] == ["Penguins live in Antarctica."]


def test_refused_answers_score_no_sentences_in_the_evals(tmp_path: Path, docs: Path) -> None:
    from evals.dataset import EvalCase
    from evals.scoring import judged_sentences, score_case

    helper, _ = assistant(tmp_path, docs, "Penguins live in Antarctica. [1]", 0.0)
    answer = helper.ask("what did Zelenskyy refuse to give up?")
    assert answer.refused and judged_sentences(answer)  # the draft is there to inspect ...
    case = EvalCase(id="q", question="what did Zelenskyy refuse to give up?", answerable=False)
    result = score_case(case, answer, k=5)
    # ... but a refusal presents no sentence as an answer, so faithfulness has nothing to score.
    assert result.refused and result.metrics["faithfulness"] is None
    assert result.metrics["citation_precision"] is None and result.sentences


def test_empty_question_is_an_error(tmp_path: Path, docs: Path) -> None:
    helper, _ = assistant(tmp_path, docs, "x", 0.0)
    with pytest.raises(ValueError, match="empty"):
        helper.ask("   ")
