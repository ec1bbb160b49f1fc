"""The learned part of the support judge: a logistic regression over what the rules measure.

For the opted-in ``nli`` judge (``RAG_JUDGE=nli``: the entailment model of ``nli.py``), the
judge's score is the probability that the passage supports the sentence, from the numbers the
rules already compute plus the model's logit difference. The weights live in
``judge_weights.json``, written by ``python -m evals.fit_judge`` from the development pairs of
``evals/datasets/judge.jsonl`` only (the held-out pairs are never read); the same script prints
the cross-validated figures. Inference is a dot product, so no learning library is needed at run
time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

WEIGHTS_FILE = Path(__file__).resolve().parent / "judge_weights.json"

FEATURES = ("hard_fail", "coverage", "similarity", "new_words", "nli")
"""In this order: a hard rule fired (number, name, date, negation, antonym, roles, injection);
share of the sentence's content words in the passage; MiniLM cosine to the aligned passage
sentence; new content words (capped at 5, over 5); the model's "does not follow" logit
difference (over 5)."""

NEW_WORDS_CAP = 4
"""A sentence with this many content words the passage lacks is at most "weak" whatever the
model says: the entailment model is tuned to contradictions and lets appended invented clauses
through. Chosen by cross-validation on the development pairs among no cap, 3 and 4 (3 cost recall,
none let twice as many invented clauses through)."""


@dataclass(frozen=True)
class Features:
    hard_fail: bool
    coverage: float
    similarity: float
    new_words: int
    nli: float

    def vector(self) -> tuple[float, ...]:
        return (float(self.hard_fail), self.coverage, self.similarity, min(self.new_words, 5) / 5, self.nli / 5)


@dataclass(frozen=True)
class CombinerWeights:
    """Coefficients in ``FEATURES`` order, the intercept, and the probability cut-offs."""

    coef: tuple[float, ...]
    intercept: float
    supported: float
    weak: float
    nli_model: str

    def probability(self, features: Features) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.coef, features.vector(), strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def score(self, features: Features) -> float:
        """The judge's score: the probability, held under "supported" with ``NEW_WORDS_CAP`` new
        words and under "weak" when a hard rule fired (the rules still win)."""
        score = self.probability(features)
        if features.new_words >= NEW_WORDS_CAP:
            score = min(score, self.supported - 0.01)
        if features.hard_fail:
            score = min(score, self.weak - 0.01)
        return score

    def to_dict(self) -> dict[str, object]:
        return {"features": list(FEATURES), "coef": list(self.coef), "intercept": self.intercept,
                "supported": self.supported, "weak": self.weak, "nli_model": self.nli_model}

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> CombinerWeights:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted on features {data['features']}, not {list(FEATURES)}")
        return cls(coef=tuple(float(c) for c in data["coef"]), intercept=float(data["intercept"]),
                   supported=float(data["supported"]), weak=float(data["weak"]), nli_model=str(data["nli_model"]))
