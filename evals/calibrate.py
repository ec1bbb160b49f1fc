"""Refusal calibration: which top dense score best separates answerable from unanswerable questions?

The Assistant refuses when the best dense cosine among its hits is below
``Assistant.refusal_threshold``. Here we fit that threshold on eval cases (maximising accuracy of
"answer iff score >= threshold") and check it on held-out cases: the cases are split in two halves
by a hash of their id, a threshold is fitted on each half and scored on the other.

>>> cases = [ScoredCase("a", True, 0.62), ScoredCase("b", True, 0.48), ScoredCase("c", False, 0.21)]
>>> best_threshold([(c.score, c.answerable) for c in cases])
(0.345, 1.0)
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScoredCase:
    """One eval case's top dense score and whether the documents answer it."""

    id: str
    answerable: bool
    score: float


@dataclass(frozen=True)
class Fold:
    """A threshold fitted on one half of the cases and its accuracy on the other half."""

    fit_half: int
    n_fit: int
    n_heldout: int
    threshold: float
    fit_accuracy: float
    heldout_accuracy: float


@dataclass(frozen=True)
class Calibration:
    threshold: float
    accuracy: float
    n_answerable: int
    n_unanswerable: int
    lowest_answerable: float | None
    highest_unanswerable: float | None
    folds: tuple[Fold, ...] = ()
    current_threshold: float | None = None
    current_accuracy: float | None = None
    misclassified: tuple[str, ...] = field(default=())

    @property
    def heldout_accuracy(self) -> float | None:
        """Mean held-out accuracy over the folds (the honest number)."""
        if not self.folds:
            return None
        return round(sum(f.heldout_accuracy for f in self.folds) / len(self.folds), 4)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["heldout_accuracy"] = self.heldout_accuracy
        return data

    def describe(self) -> str:
        """One line for reports."""
        held = "n/a" if self.heldout_accuracy is None else f"{self.heldout_accuracy:.3f}"
        current = "" if self.current_threshold is None else \
            f"; current threshold {self.current_threshold:.3f} scores {self.current_accuracy:.3f}"
        return (f"on the top dense score alone, refusal threshold {self.threshold:.3f} separates "
                f"{self.n_answerable} answerable from "
                f"{self.n_unanswerable} unanswerable cases with accuracy {self.accuracy:.3f} "
                f"(held-out, fitted on the other half: {held}){current}")


def accuracy(scores: Sequence[tuple[float, bool]], threshold: float) -> float:
    """Share of cases where "answer iff score >= threshold" matches answerability."""
    if not scores:
        return 0.0
    return sum((score >= threshold) == answerable for score, answerable in scores) / len(scores)


def best_threshold(scores: Sequence[tuple[float, bool]]) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy; thresholds lie midway between observed scores,
    and among equally good ones the middle one is taken (the widest margin on both sides)."""
    values = sorted({s for s, _ in scores})
    if not values:
        return 0.0, 0.0
    candidates = [values[0] - 0.01] + [(a + b) / 2 for a, b in itertools.pairwise(values)] + \
        [values[-1] + 0.01]
    scored = [(accuracy(scores, t), t) for t in candidates]
    best = max(acc for acc, _ in scored)
    tied = [t for acc, t in scored if acc == best]
    return round(tied[(len(tied) - 1) // 2], 4), round(best, 4)


def half_of(case_id: str) -> int:
    """0 or 1, stable across runs and machines (a hash of the id, not Python's salted hash)."""
    return int(hashlib.sha1(case_id.encode("utf-8")).hexdigest(), 16) % 2


def calibrate(cases: Sequence[ScoredCase], current_threshold: float | None = None) -> Calibration:
    """Fit the refusal threshold on all cases, and on each half checked against the other."""
    pairs = [(c.score, c.answerable) for c in cases]
    threshold, acc = best_threshold(pairs)
    folds = []
    for fit_half in (0, 1):
        fit = [(c.score, c.answerable) for c in cases if half_of(c.id) == fit_half]
        held = [(c.score, c.answerable) for c in cases if half_of(c.id) != fit_half]
        if fit and held:
            t, fit_acc = best_threshold(fit)
            folds.append(Fold(fit_half, len(fit), len(held), t, fit_acc, round(accuracy(held, t), 4)))
    answerable = [c.score for c in cases if c.answerable]
    unanswerable = [c.score for c in cases if not c.answerable]
    wrong = tuple(c.id for c in cases if (c.score >= threshold) != c.answerable)
    return Calibration(
        threshold=threshold, accuracy=acc, n_answerable=len(answerable), n_unanswerable=len(unanswerable),
        lowest_answerable=round(min(answerable), 4) if answerable else None,
        highest_unanswerable=round(max(unanswerable), 4) if unanswerable else None, folds=tuple(folds),
        current_threshold=current_threshold,
        current_accuracy=None if current_threshold is None else round(accuracy(pairs, current_threshold), 4),
        misclassified=wrong)
