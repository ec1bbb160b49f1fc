"""``rag eval-judge`` scoring on hand-made pairs with the lexical judge (no model)."""

from __future__ import annotations

import pytest

from evals.dataset import JudgeCase
from evals.judge_eval import best_thresholds, evaluate_judge, format_judge_report, similarity_from, stats
from rag.check.support import HeuristicJudge
from tests.fakes import WordEmbedder

PASSAGE = "Sales rose 5% in May. The board approved the plan on Monday."
CASES = [
    JudgeCase("s1", "Sales rose 5% in May.", PASSAGE, True, "supported"),
    JudgeCase("s2", "The board approved the plan.", PASSAGE, True, "supported"),
    JudgeCase("n1", "Sales rose 7% in May.", PASSAGE, False, "changed_number"),
    JudgeCase("n2", "Penguins migrate across Antarctica every winter.", PASSAGE, False, "unrelated"),
]


def test_stats_counts_and_ratios() -> None:
    s = stats([True, True, False, False, True], [True, False, True, False, True])
    assert (s.tp, s.fp, s.fn, s.tn) == (2, 1, 1, 1)
    assert s.precision == pytest.approx(0.6667, abs=1e-4)
    assert s.recall == pytest.approx(0.6667, abs=1e-4)
    assert s.accuracy == 0.6
    only_negatives = stats([False, False], [False, False])
    assert only_negatives.precision is None and only_negatives.recall is None and only_negatives.accuracy == 1.0


def test_evaluate_judge_overall_and_per_kind() -> None:
    report = evaluate_judge(CASES, HeuristicJudge())
    assert report.overall.n == 4
    assert report.overall.precision == 1.0 and report.overall.recall == 1.0
    assert set(report.per_kind) == {"supported", "changed_number", "unrelated"}
    assert report.per_kind["changed_number"].tn == 1
    assert report.mistakes == []
    data = report.to_dict()
    assert data["overall"]["precision"] == 1.0 and data["per_kind"]["supported"]["recall"] == 1.0
    assert "precision 1.000" in format_judge_report(report)


def test_best_thresholds_find_the_separating_score() -> None:
    f1, acc = best_thresholds([True, True, False, False], [0.9, 0.7, 0.5, 0.1])
    assert f1["threshold"] == pytest.approx(0.6) and f1["f1"] == 1.0
    assert acc["threshold"] == pytest.approx(0.6) and acc["accuracy"] == 1.0


def test_similarity_from_embedder_is_cosine() -> None:
    sims = similarity_from(WordEmbedder())([("the cat sat", "the cat sat"), ("the cat sat", "dogs bark loudly")])
    assert sims[0] == pytest.approx(1.0)
    assert sims[1] < 0.5


def test_report_keeps_the_splits_apart() -> None:
    heldout = [JudgeCase("h1", "Sales rose 9% in May.", PASSAGE, False, "changed_number", split="heldout"),
               JudgeCase("h2", "The board approved the plan on Monday.", PASSAGE, True, "supported",
                         split="heldout"),
               JudgeCase("h3", "Sales fell 5% in May.", PASSAGE, True, "supported", split="heldout")]  # mislabelled
    report = evaluate_judge([*CASES, *heldout], HeuristicJudge())
    assert set(report.splits) == {"dev", "heldout"}
    assert report.splits["dev"].overall.n == 4 and report.heldout is not None
    h = report.heldout.overall
    assert (h.n, h.tp, h.fn, h.tn) == (3, 1, 1, 1)
    assert report.heldout.per_kind["supported"].recall == 0.5
    assert report.overall.n == 7
    # A held-out pair is never listed, so it cannot be tuned on; its figures still are.
    assert report.mistakes == [] and report.to_dict()["mistakes"] == []
    assert report.to_dict()["splits"]["heldout"]["overall"]["recall"] == 0.5
    text = format_judge_report(report)
    assert text.index("held-out split") < text.index("development split")
    assert "h3" not in text
