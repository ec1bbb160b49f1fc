"""How good is the offline support judge? (``rag eval-judge``)

Runs ``rag.check.support.HeuristicJudge`` with MiniLM similarity over hand-labelled (sentence, passage)
pairs and reports precision, recall, F1 and accuracy of its "supported" verdict for the held-out
split (pairs never used to tune the judge: the figure to quote) and the development split, overall
and per ``kind`` of pair, plus the score threshold that would have worked best on the development
pairs (for information only).

>>> from rag.assistant import default_embedder
>>> judge = HeuristicJudge(similarity_from(default_embedder()))           # doctest: +SKIP
>>> report = evaluate_judge(load_judge_dataset(DEFAULT_JUDGE_DATASET), judge)  # doctest: +SKIP
>>> report.heldout.overall.precision                                            # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evals.dataset import JUDGE_SPLITS, JudgeCase
from rag.check.support import HeuristicJudge, Similarity
from rag.protocols import Embedder
from rag.records import Support

DATASETS = Path(__file__).resolve().parent / "datasets"
DEFAULT_JUDGE_DATASET = DATASETS / "judge.jsonl"


def similarity_from(embedder: Embedder) -> Similarity:
    """Cosine similarity of (sentence, passage sentence) pairs, as ``Assistant._similarity`` computes it."""

    def similarity(pairs: Sequence[tuple[str, str]]) -> list[float]:
        left = embedder.embed([a for a, _ in pairs])
        right = embedder.embed([b for _, b in pairs])
        return [float(x) for x in np.einsum("ij,ij->i", left, right)]

    return similarity


@dataclass(frozen=True)
class JudgeStats:
    """Confusion counts of the "supported" verdict and the scores derived from them (None: undefined)."""

    n: int
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float | None:
        return round(self.tp / (self.tp + self.fp), 4) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return round(self.tp / (self.tp + self.fn), 4) if self.tp + self.fn else None

    @property
    def accuracy(self) -> float | None:
        return round((self.tp + self.tn) / self.n, 4) if self.n else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return round(2 * p * r / (p + r), 4) if p and r else (0.0 if p is not None and r is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1,
                "accuracy": self.accuracy}


def stats(labels: Sequence[bool], predicted: Sequence[bool]) -> JudgeStats:
    """Confusion counts for "supported".

    >>> stats([True, True, False, False], [True, False, True, False]).precision
    0.5
    """
    pairs = list(zip(labels, predicted, strict=True))
    return JudgeStats(n=len(pairs), tp=sum(a and b for a, b in pairs), fp=sum(b and not a for a, b in pairs),
                      fn=sum(a and not b for a, b in pairs), tn=sum(not a and not b for a, b in pairs))


@dataclass(frozen=True)
class Judged:
    """One labelled pair with the judge's ``Support`` for it."""

    id: str
    kind: str
    supported: bool  # the label
    support: Support  # the judge's verdict
    split: str = "dev"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "supported": self.supported, "verdict": self.support.verdict,
                "score": self.support.score, "reasons": list(self.support.reasons)}


@dataclass(frozen=True)
class SplitStats:
    """The "supported" verdict scored on one split, overall and per kind of pair."""

    overall: JudgeStats
    per_kind: dict[str, JudgeStats]

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall.to_dict(), "per_kind": {k: v.to_dict() for k, v in self.per_kind.items()}}


def split_stats(rows: Sequence[Judged]) -> SplitStats:
    kinds = sorted({r.kind for r in rows})
    return SplitStats(
        overall=stats([r.supported for r in rows], [r.support.verdict == "supported" for r in rows]),
        per_kind={k: stats([r.supported for r in rows if r.kind == k],
                           [r.support.verdict == "supported" for r in rows if r.kind == k]) for k in kinds})


@dataclass(frozen=True)
class JudgeReport:
    """``overall``/``per_kind`` over every pair; ``splits`` per split. The held-out split is the
    honest figure: its pairs were never used to tune the judge, so its mistakes are not listed."""

    judge: str
    overall: JudgeStats
    per_kind: dict[str, JudgeStats]
    supported_threshold: float
    best_f1_threshold: dict[str, float | None]
    best_accuracy_threshold: dict[str, float | None]
    rows: tuple[Judged, ...] = field(default=())
    splits: dict[str, SplitStats] = field(default_factory=dict)

    @property
    def heldout(self) -> SplitStats | None:
        return self.splits.get("heldout")

    @property
    def mistakes(self) -> list[Judged]:
        """Misjudged development pairs (held-out ones stay unseen: looking at them invites tuning on them)."""
        return [r for r in self.rows if r.split == "dev" and (r.support.verdict == "supported") != r.supported]

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "n": self.overall.n, "overall": self.overall.to_dict(),
                "per_kind": {k: v.to_dict() for k, v in self.per_kind.items()},
                "splits": {k: v.to_dict() for k, v in self.splits.items()},
                "supported_threshold": self.supported_threshold, "best_f1_threshold": self.best_f1_threshold,
                "best_accuracy_threshold": self.best_accuracy_threshold,
                "mistakes": [r.to_dict() for r in self.mistakes]}


def best_thresholds(labels: Sequence[bool], scores: Sequence[float]) -> tuple[dict[str, float | None],
                                                                             dict[str, float | None]]:
    """The score cut-offs that would maximise F1 and accuracy of "supported" on these pairs."""
    values = sorted(set(scores))
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(values)] + [values[0] - 0.01,
                                                                                    values[-1] + 0.01]
    best_f1: tuple[float, float, JudgeStats] | None = None
    best_acc: tuple[float, float, JudgeStats] | None = None
    for t in sorted(candidates):
        s = stats(labels, [x >= t for x in scores])
        if best_f1 is None or (s.f1 or 0.0) > best_f1[0]:
            best_f1 = (s.f1 or 0.0, t, s)
        if best_acc is None or (s.accuracy or 0.0) > best_acc[0]:
            best_acc = (s.accuracy or 0.0, t, s)
    assert best_f1 is not None and best_acc is not None
    f1 = {"threshold": round(best_f1[1], 4), "f1": best_f1[2].f1, "precision": best_f1[2].precision,
          "recall": best_f1[2].recall}
    acc = {"threshold": round(best_acc[1], 4), "accuracy": best_acc[2].accuracy,
           "precision": best_acc[2].precision, "recall": best_acc[2].recall}
    return f1, acc


def evaluate_judge(cases: Sequence[JudgeCase], judge: HeuristicJudge) -> JudgeReport:
    """Judge every pair in one batch and score the "supported" verdicts against the labels, per split."""
    verdicts = judge.check_many([(c.sentence, c.passage) for c in cases])
    rows = tuple(Judged(c.id, c.kind, c.supported, v, c.split) for c, v in zip(cases, verdicts, strict=True))
    everything = split_stats(rows)
    splits = {name: split_stats([r for r in rows if r.split == name]) for name in JUDGE_SPLITS
              if any(r.split == name for r in rows)}
    # The best cut-offs are fitted on the development pairs only (all pairs when there are none).
    fit = [r for r in rows if r.split == "dev"] or list(rows)
    f1, acc = best_thresholds([r.supported for r in fit], [r.support.score for r in fit])
    return JudgeReport(judge=judge.name, overall=everything.overall, per_kind=everything.per_kind,
                       supported_threshold=judge.weights.supported if judge.weights else judge.thresholds.supported,
                       best_f1_threshold=f1,
                       best_accuracy_threshold=acc, rows=rows, splits=splits)


_SPLIT_TITLES = {"dev": "development split (rules and thresholds tuned on these)",
                 "heldout": "held-out split (never used for tuning)"}


def _show(v: float | None) -> str:
    return "  n/a" if v is None else f"{v:5.3f}"


def _split_lines(title: str, split: SplitStats) -> list[str]:
    o = split.overall
    lines = [f"{title}: {o.n} pairs, \"supported\" precision {_show(o.precision)}, recall {_show(o.recall)}, "
             f"F1 {_show(o.f1)}, accuracy {_show(o.accuracy)}",
             f"  {'kind':<18}{'n':>4}{'labelled+':>10}{'said+':>7}{'precision':>11}{'recall':>8}{'F1':>7}"
             f"{'accuracy':>10}"]
    for kind, s in split.per_kind.items():
        lines.append(f"  {kind:<18}{s.n:>4}{s.tp + s.fn:>10}{s.tp + s.fp:>7}{_show(s.precision):>11}"
                     f"{_show(s.recall):>8}{_show(s.f1):>7}{_show(s.accuracy):>10}")
    return lines


def format_judge_report(report: JudgeReport) -> str:
    o = report.overall
    lines = [f"judge {report.judge} on {o.n} labelled pairs"]
    for name in reversed(JUDGE_SPLITS):  # held-out first: it is the figure to quote
        if name in report.splits:
            lines += ["", *_split_lines(_SPLIT_TITLES[name], report.splits[name])]
    if len(report.splits) > 1:
        lines += ["", f"all pairs: \"supported\" precision {_show(o.precision)}, recall {_show(o.recall)}, "
                      f"F1 {_show(o.f1)}, accuracy {_show(o.accuracy)}"]
    f1, acc = report.best_f1_threshold, report.best_accuracy_threshold
    fitted_on = "the development pairs" if "dev" in report.splits else "these pairs (none is a development pair)"
    lines += ["", f"current 'supported' threshold {report.supported_threshold:.3f}; on {fitted_on} the "
              f"best would be {f1['threshold']:.3f} for F1 ({_show(f1['f1'])}) and {acc['threshold']:.3f} for "
              f"accuracy ({_show(acc['accuracy'])})"]
    if report.mistakes:
        lines += ["", "misjudged development pairs (held-out pairs are never listed):"]
        for r in report.mistakes:
            lines.append(f"  {r.id} ({r.kind}): labelled {'supported' if r.supported else 'unsupported'}, "
                         f"judged {r.support.verdict} ({r.support.score:.2f}) {'; '.join(r.support.reasons[:2])}")
    return "\n".join(lines)
