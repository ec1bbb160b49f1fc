"""Eval metrics as pure functions, checked on cases computed by hand."""

from __future__ import annotations

import math

import pytest

from evals.metrics import (
    JudgedSentence,
    citation_precision,
    citation_recall,
    contains_span,
    faithfulness,
    hit_at,
    mean,
    ndcg,
    normalise,
    percentile,
    reciprocal_rank,
    relevance,
    token_f1,
)

S, W, U = "supported", "weak", "unsupported"


# ---- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Kyiv’s offer", "kyiv's offer"),
    ("‘single’ and “double”", "'single' and \"double\""),
    ("10–15 years — or more", "10-15 years - or more"),
    ("minus −5 and non‑breaking‐hyphen", "minus -5 and non-breaking-hyphen"),
    ("  many\n\tspaces\u00a0here ", "many spaces here"),
    ("soft\u00adhyphen", "softhyphen"),
    ("ÉCOLE Straße", "école strasse"),
])
def test_normalise_folds_case_quotes_dashes_and_whitespace(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_contains_span_ignores_typography_but_not_words() -> None:
    doc = "Zelenskyy said Ukraine “will not cede” the contested\nDonetsk region — ever."
    assert contains_span(doc, ['Ukraine "will not cede" the contested Donetsk region - ever'])
    assert not contains_span(doc, ["Ukraine will cede the contested Donetsk region"])
    assert not contains_span(doc, [])
    assert not contains_span(doc, [""])  # an empty span must not match everything


def test_relevance_marks_each_passage_that_holds_any_span() -> None:
    passages = ["nothing here", "The guarantees would have to come from the US.", "Kushner’s role"]
    assert relevance(passages, ["come from the us", "kushner's role"]) == [False, True, True]


def test_strip_markers_removes_citation_groups() -> None:
    from rag.check.citations import strip_markers

    assert strip_markers("It rose [1]. It fell [2, 3]. Range [4-6].") == "It rose. It fell. Range."


# ---- ranking -----------------------------------------------------------------------------------


def test_hit_at_k() -> None:
    ranks = [False, False, True, False]
    assert hit_at(ranks, 1) == 0.0
    assert hit_at(ranks, 2) == 0.0
    assert hit_at(ranks, 3) == 1.0
    assert hit_at([], 5) == 0.0


def test_reciprocal_rank_uses_first_relevant_within_k() -> None:
    assert reciprocal_rank([True, True], 5) == 1.0
    assert reciprocal_rank([False, False, False, True], 5) == 0.25
    assert reciprocal_rank([False, False, False, True], 3) == 0.0
    assert reciprocal_rank([False] * 5, 5) == 0.0


def test_ndcg_hand_computed() -> None:
    # One relevant passage at rank 3, one relevant in the index: 1/log2(4) / 1 = 0.5.
    assert ndcg([False, False, True], 5) == pytest.approx(0.5)
    # Relevant at ranks 1 and 3, three relevant passages in the index:
    # DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4) = 2.1309.
    expected = 1.5 / (1 + 1 / math.log2(3) + 0.5)
    assert ndcg([True, False, True, False], 5, n_relevant=3) == pytest.approx(expected)
    assert ndcg([True, True], 5) == pytest.approx(1.0)
    assert ndcg([False, False], 5, n_relevant=2) == 0.0
    # Only the first k count, and the ideal is capped at k.
    assert ndcg([False, True], 1, n_relevant=4) == 0.0
    assert ndcg([True], 1, n_relevant=4) == pytest.approx(1.0)


def test_ndcg_never_exceeds_one_when_index_count_is_too_low() -> None:
    assert ndcg([True, True, True], 5, n_relevant=1) == pytest.approx(1.0)


# ---- answers -----------------------------------------------------------------------------------


def test_token_f1_hand_computed() -> None:
    # prediction tokens: guarantees come from us (articles and punctuation dropped) = 4
    # reference tokens: from us = 2; common = 2 -> P = 0.5, R = 1, F1 = 2/3
    # "U.S" splits into "u s": only "from" is shared -> P = 1/4, R = 1/3, F1 = 2/7
    assert token_f1("The guarantees come from the US [1].", "from the U.S") == pytest.approx(2 / 7)
    assert token_f1("The guarantees come from the US [1].", "from the US") == pytest.approx(2 / 3)
    assert token_f1("Donetsk", "Donetsk.") == 1.0
    assert token_f1("Kyiv", "Moscow") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("", "something") == 0.0


def test_token_f1_counts_repeated_tokens_once_each() -> None:
    # pred: to be or not to be (6), ref: to be (2); common = min counts: to 1, be 1 = 2
    # P = 2/6, R = 1 -> F1 = 0.5
    assert token_f1("to be or not to be", "to be") == pytest.approx(0.5)


def test_faithfulness_is_share_of_supported_sentences() -> None:
    sentences = [JudgedSentence(S, (S,)), JudgedSentence(W, (W,)), JudgedSentence(U, (U,)), JudgedSentence(S, (S,))]
    assert faithfulness(sentences) == 0.5
    assert faithfulness([]) is None


def test_citation_recall_alce_uses_joint_support() -> None:
    sentences = [
        JudgedSentence(S, (S,)),                # supported by its one citation: 1
        JudgedSentence(U, ()),                  # no citation: 0
        JudgedSentence(W, (W, U), joint=W),     # its citations together do not support it: 0
        JudgedSentence(S, (U, U), joint=S),     # two facts, one per citation, supported together: 1
    ]
    assert citation_recall(sentences) == 0.5
    assert citation_recall([]) is None


def test_citation_precision_alce() -> None:
    sentences = [
        JudgedSentence(S, (S,)),                          # 1 of 1 relevant
        JudgedSentence(S, (S, U), joint=S, without_verdicts=(None, S)),  # [2] alone fails, [1] still supports: 1 of 2
        JudgedSentence(U, (U,)),                          # not supported: its citation gets no credit: 0 of 1
    ]
    assert citation_precision(sentences) == pytest.approx(2 / 4)


def test_citation_precision_joint_support_makes_every_citation_needed() -> None:
    # Two facts, one per citation: neither alone supports, and neither can go: 2 of 2.
    assert citation_precision([JudgedSentence(S, (U, U), joint=S, without_verdicts=(U, U))]) == 1.0
    # An irrelevant third citation: alone it fails and the other two still support: 2 of 3.
    three = JudgedSentence(S, (U, U, U), joint=S, without_verdicts=(U, U, S))
    assert citation_precision([three]) == pytest.approx(2 / 3)
    # Two citations that each support alone are both relevant.
    assert citation_precision([JudgedSentence(S, (S, S), joint=S, without_verdicts=(None, None))]) == 1.0


def test_an_answer_without_citations_scores_zero_precision() -> None:
    assert citation_precision([JudgedSentence(U, ())]) == 0.0
    assert citation_precision([]) is None


# ---- aggregation -------------------------------------------------------------------------------


def test_mean_skips_missing_values() -> None:
    assert mean([1.0, None, 0.0]) == 0.5
    assert mean([None, None]) is None


def test_percentile_matches_linear_interpolation() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 50) == 30.0
    assert percentile(values, 95) == pytest.approx(48.0)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
