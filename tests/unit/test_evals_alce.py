"""ALCE's citation metrics on real answers from hand-made generators, and refusals that cannot hide
a bad generator: the whole path (retrieve, draft, check, judge citations, score, compare)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from evals.alce import judge_citations
from evals.claims import claim_faithfulness
from evals.compare import compare_runs
from evals.dataset import EvalCase
from evals.metrics import citation_precision, citation_recall
from evals.runner import run_eval
from rag.assistant import Assistant
from rag.records import Hit, Support
from rag.settings import Settings
from tests.fakes import WordEmbedder

BRIDGE = "The Harbour Bridge opened to traffic in 1932."
TOLL = "Crossing the bridge costs a toll of 7 dollars."
GULLS = "Gulls nest on the rocks below the northern pylon."


class CitingGenerator:
    """Writes ``template`` with each ``{name}`` replaced by the marker of the passage holding ``name``'s text."""

    name = "citing"

    def __init__(self, template: str, markers: dict[str, str]) -> None:
        self.template, self.markers = template, markers

    def stream(self, question: str, passages: Sequence[Hit], question_vector: np.ndarray | None = None
               ) -> Iterator[str]:
        where = {key: next(i for i, h in enumerate(passages, 1) if text in h.chunk.text)
                 for key, text in self.markers.items()}
        yield self.template.format(**{key: f"[{n}]" for key, n in where.items()})


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in (("opening.txt", BRIDGE), ("toll.txt", TOLL), ("gulls.txt", GULLS)):
        (folder / name).write_text(text)
    return folder


def assistant(tmp_path: Path, docs: Path, generator: object) -> Assistant:
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0", "RAG_K": "3"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings,
                       generator=generator)  # type: ignore[arg-type]
    helper.add(docs)
    return helper


TWO_FACTS = "The bridge opened in 1932 and crossing it costs a toll of 7 dollars. {bridge}{toll}"


def test_a_two_fact_sentence_needs_both_citations(tmp_path: Path, docs: Path) -> None:
    helper = assistant(tmp_path, docs, CitingGenerator(TWO_FACTS, {"bridge": BRIDGE, "toll": TOLL}))
    answer = helper.ask("when did the bridge open and what is the toll?")
    assert not answer.refused and answer.sentences[0].support == "supported"  # supported jointly
    assert [c.support for c in answer.citations] == ["unsupported", "unsupported"]  # neither alone
    judged = judge_citations(answer, helper.judge)
    assert citation_recall(judged) == 1.0 and citation_precision(judged) == 1.0


def test_an_irrelevant_third_citation_costs_a_third_of_precision(tmp_path: Path, docs: Path) -> None:
    generator = CitingGenerator(TWO_FACTS.replace("{toll}", "{toll}{gulls}"),
                                {"bridge": BRIDGE, "toll": TOLL, "gulls": GULLS})
    helper = assistant(tmp_path, docs, generator)
    judged = judge_citations(helper.ask("when did the bridge open and what is the toll?"), helper.judge)
    assert citation_recall(judged) == 1.0
    assert citation_precision(judged) == pytest.approx(2 / 3)


def _run(tmp_path: Path, docs: Path, name: str, generator: object) -> Path:
    cases = [EvalCase("opening", "When did the bridge open?", (BRIDGE,)),
             EvalCase("toll", "How much is the toll on the bridge?", (TOLL,)),
             EvalCase("gulls", "Where do gulls nest by the bridge?", (GULLS,))]
    run = run_eval(cases, docs, assistant=assistant(tmp_path / name, docs, generator))
    out = tmp_path / name / "results"
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps(run.to_dict()))
    return out


def test_an_always_wrong_generator_cannot_hide_behind_refusals(tmp_path: Path, docs: Path) -> None:
    good = _run(tmp_path, docs, "good", None)  # the extractive answerer quotes the right passage
    good_data = json.loads((good / "results.json").read_text())
    assert good_data["summary"]["faithfulness"] == 1.0 and good_data["summary"]["n_withdrawn"] == 0
    wrong = _run(tmp_path, docs, "wrong", CitingGenerator(
        "The bridge was closed in 1850 by the navy. {any}", {"any": ""}))
    wrong_summary = json.loads((wrong / "results.json").read_text())["summary"]
    assert wrong_summary["draft_faithfulness"] <= 0.1
    assert wrong_summary["n_withdrawn"] == 3 and wrong_summary["faithfulness"] is None
    status, text, data = compare_runs(good, wrong)
    assert status == 1 and "REGRESSION" in text, (good_data["summary"], text)
    assert "faithfulness" in data["regressed"] and sorted(data["newly_refused"]) == ["gulls", "opening", "toll"]


# ---- claim-level faithfulness (RAGAS): only with a judge that can split answers into statements ----

class StatementModelJudge:
    """An LLM judge over a scripted chat model: the split it returns and one verdict per statement."""

    def __init__(self, split: str, verdicts: list[str]) -> None:
        from langchain_core.language_models import FakeListChatModel

        from rag.check.llm_judge import LLMJudge

        self.inner = LLMJudge(FakeListChatModel(responses=[split, *verdicts]), "scripted", max_concurrency=1)
        self.name = self.inner.name

    def claims(self, answer: str) -> list[str]:
        return self.inner.claims(answer)

    def check_many(self, pairs: list[tuple[str, str]]) -> list[Support]:
        return self.inner.check_many(pairs)


def test_claim_faithfulness_checks_each_statement_against_all_passages(tmp_path: Path, docs: Path) -> None:
    helper = assistant(tmp_path, docs, CitingGenerator(TWO_FACTS, {"bridge": BRIDGE, "toll": TOLL}))
    answer = helper.ask("when did the bridge open and what is the toll?")
    judge = StatementModelJudge("- The bridge opened in 1932.\n- The toll is 7 dollars.\n- It is painted red.",
                                ["yes", "yes", "no"])
    assert claim_faithfulness(answer, judge) == pytest.approx(2 / 3)


def test_claim_faithfulness_is_unavailable_with_the_heuristic_judge(tmp_path: Path, docs: Path) -> None:
    helper = assistant(tmp_path, docs, CitingGenerator(TWO_FACTS, {"bridge": BRIDGE, "toll": TOLL}))
    answer = helper.ask("when did the bridge open and what is the toll?")
    assert claim_faithfulness(answer, helper.judge) is None
    run = run_eval([EvalCase("opening", "When did the bridge open?", (BRIDGE,))], docs, assistant=helper)
    assert run.summary["claim_faithfulness"] is None and "LLM judge" in run.summary["claim_faithfulness_note"]
