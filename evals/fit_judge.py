"""Fit the support judge's combiner on the development pairs (``python -m evals.fit_judge``).

Reads only the ``"split": "dev"`` pairs of ``evals/datasets/judge.jsonl`` (the held-out pairs are
dropped as they are loaded), measures each reworded pair with the rules, MiniLM and the
entailment model (``rag.check.nli``), fits an L2-regularised logistic regression by Newton's
method (numpy: deterministic, no learning library), and picks the "supported" cut-off as the
lowest probability at which the fitted pairs reach precision ``TARGET_PRECISION``. Repeated
stratified 5-fold cross-validation, with folds dealt by a hash of each pair's id, estimates how
the same recipe does on pairs it was not fitted on; those are the development figures to quote.

    .venv/bin/python -m evals.fit_judge            # print the cross-validated figures
    .venv/bin/python -m evals.fit_judge --write    # and store rag/check/judge_weights.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evals.dataset import JudgeCase, load_judge_dataset
from evals.judge_eval import DEFAULT_JUDGE_DATASET, JudgeStats, similarity_from, stats
from rag.check.combiner import FEATURES, WEIGHTS_FILE, CombinerWeights, Features
from rag.check.nli import NliModel
from rag.check.support import HeuristicJudge
from rag.errors import UsageError

TARGET_PRECISION = 0.9
L2 = 1.0  # inverse strength as scikit-learn's C: the penalty is |w|^2 / (2 * L2), intercept free
FOLDS = 5
REPEATS = 5


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> tuple[np.ndarray, float]:
    """Coefficients and intercept minimising the log loss plus ``|w|^2 / (2 * l2)`` (Newton's method).

    >>> w, b = fit_logistic(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
    >>> bool(w[0] > 0), bool(b < 0)
    (True, True)
    """
    a = np.hstack([x, np.ones((len(x), 1))])
    penalty = np.eye(a.shape[1]) / l2
    penalty[-1, -1] = 0.0
    theta = np.zeros(a.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-a @ theta))
        gradient = a.T @ (p - y) + penalty @ theta
        hessian = a.T @ (a * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(a.shape[1])
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta[:-1], float(theta[-1])


def cutoff(probabilities: np.ndarray, y: np.ndarray, target: float = TARGET_PRECISION) -> float:
    """The lowest probability at which "supported" reaches precision ``target`` on these pairs
    (the highest probability when none does).

    >>> cutoff(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 1]), target=0.9)
    0.8
    """
    for t in sorted(set(probabilities.tolist())):
        chosen = probabilities >= t
        if y[chosen].mean() >= target:
            return float(t)
    return float(probabilities.max())


def fit(x: np.ndarray, y: np.ndarray, nli_model: str) -> CombinerWeights:
    coef, intercept = fit_logistic(x, y)
    probabilities = 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))
    supported = cutoff(probabilities, y)
    return CombinerWeights(coef=tuple(round(float(c), 6) for c in coef), intercept=round(intercept, 6),
                           supported=round(supported, 6), weak=round(supported / 2, 6), nli_model=nli_model)


def folds(ids: Sequence[str], labels: Sequence[bool], repeat: int, k: int = FOLDS) -> list[int]:
    """A fold per pair: each class sorted by a hash of (repeat, id) and dealt round-robin."""
    out = [0] * len(ids)
    for label in (True, False):
        members = sorted((i for i, y in enumerate(labels) if y == label),
                         key=lambda i: hashlib.sha1(f"{repeat}:{ids[i]}".encode()).hexdigest())
        for n, i in enumerate(members):
            out[i] = n % k
    return out


@dataclass(frozen=True)
class Measured:
    case: JudgeCase
    features: Features | None  # None: a verbatim quote, judged by the rules alone
    rules_supported: bool  # the rules-only verdict (used for quotes)


def predict(rows: Sequence[Measured], weights: CombinerWeights) -> list[bool]:
    return [r.rules_supported if r.features is None else weights.score(r.features) >= weights.supported
            for r in rows]


def cross_validate(rows: Sequence[Measured]) -> tuple[JudgeStats, dict[str, JudgeStats]]:
    """Pooled confusion counts over ``REPEATS`` rounds of ``FOLDS``-fold cross-validation."""
    labels: list[bool] = []
    said: list[bool] = []
    kinds: list[str] = []
    ids = [r.case.id for r in rows]
    for repeat in range(REPEATS):
        assigned = folds(ids, [r.case.supported for r in rows], repeat)
        for fold in range(FOLDS):
            train = [r for r, f in zip(rows, assigned, strict=True) if f != fold and r.features]
            test = [r for r, f in zip(rows, assigned, strict=True) if f == fold]
            weights = fit(*_matrix(train), nli_model="")
            labels += [r.case.supported for r in test]
            said += predict(test, weights)
            kinds += [r.case.kind for r in test]
    per_kind = {k: stats([y for y, kk in zip(labels, kinds, strict=True) if kk == k],
                         [s for s, kk in zip(said, kinds, strict=True) if kk == k]) for k in sorted(set(kinds))}
    return stats(labels, said), per_kind


def _matrix(rows: Sequence[Measured]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([r.features.vector() for r in rows if r.features])
    y = np.array([float(r.case.supported) for r in rows if r.features])
    return x, y


def measure(cases: Sequence[JudgeCase], nli: NliModel) -> list[Measured]:
    from rag.assistant import default_embedder

    similarity = similarity_from(default_embedder())
    placeholder = CombinerWeights(coef=(0.0,) * len(FEATURES), intercept=0.0, supported=0.5, weak=0.25,
                                  nli_model=nli.name)
    judge = HeuristicJudge(similarity, nli=nli, weights=placeholder)
    rules = HeuristicJudge(similarity).check_many([(c.sentence, c.passage) for c in cases])
    features = judge.features_many([(c.sentence, c.passage) for c in cases])
    return [Measured(c, f, r.verdict == "supported") for c, f, r in zip(cases, features, rules, strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.fit_judge", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"store the fitted weights in {WEIGHTS_FILE.name}")
    args = parser.parse_args(argv)
    nli = NliModel.installed()
    if nli is None:
        raise UsageError("the entailment model is not installed: pip install 'rag[nli]'")
    cases = [c for c in load_judge_dataset(DEFAULT_JUDGE_DATASET) if c.split == "dev"]
    rows = measure(cases, nli)
    overall, per_kind = cross_validate(rows)
    print(f"development pairs: {len(rows)}; {REPEATS}x{FOLDS}-fold cross-validated \"supported\" precision "
          f"{overall.precision}, recall {overall.recall}")
    for kind, s in per_kind.items():
        print(f"  {kind:<18} n {s.n // REPEATS:>3}  said supported {(s.tp + s.fp) / REPEATS:5.1f}  "
              f"precision {s.precision}  recall {s.recall}")
    weights = fit(*_matrix(rows), nli_model=nli.name)
    print("weights:", json.dumps(weights.to_dict()))
    if args.write:
        data = {**weights.to_dict(), "fitted_on": f"{len(rows)} development pairs of evals/datasets/judge.jsonl",
                "cv_precision": overall.precision, "cv_recall": overall.recall}
        WEIGHTS_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
