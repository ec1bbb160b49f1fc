"""The CI gate: the bundled examples eval and the judge eval must not fall below ``evals/baseline.json``.

Re-run and rewrite the baseline after a deliberate change (say why in the commit)::

    .venv/bin/python -m evals.gate            # check only, exit 1 on a regression
    .venv/bin/python -m evals.gate --write    # run both evals and store their numbers
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.compare import Delta, compare_summaries
from evals.judge_eval import DATASETS, DEFAULT_JUDGE_DATASET, JudgeReport
from evals.runner import EvalRun
from evals.scoring import QUALITY_METRICS

BASELINE = Path(__file__).resolve().parent / "baseline.json"
EXAMPLES_DATASET = DATASETS / "examples.jsonl"
EXAMPLES_DOCS = Path(__file__).resolve().parent.parent / "examples"
TOLERANCE = 0.02


def load_baseline(path: Path = BASELINE) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def regressions(summary: dict[str, Any], baseline: dict[str, Any], tolerance: float = TOLERANCE) -> list[Delta]:
    """Metrics of ``summary`` worse than the baseline's examples metrics by more than ``tolerance``."""
    return [d for d in compare_summaries(baseline["examples"]["metrics"], summary, tolerance) if d.regressed]


def judge_regressed(precision: float | None, baseline: dict[str, Any], tolerance: float = TOLERANCE) -> bool:
    return precision is None or precision < baseline["judge"]["precision"] - tolerance


def baseline_from(run: EvalRun, judge: JudgeReport) -> dict[str, Any]:
    s = run.summary
    return {
        "about": "Written by 'python -m evals.gate --write' from a real run; tests/integration/test_eval_gate.py "
                 "fails when a metric falls below these numbers by more than the tolerance.",
        "tolerance": TOLERANCE,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "examples": {"dataset": "evals/datasets/examples.jsonl", "docs": "examples", "k": s["k"],
                     "backend": s["backend"], "judge": s["judge"], "n_cases": s["n_cases"],
                     "metrics": {m: s[m] for m in QUALITY_METRICS},
                     "calibration": {"threshold": run.calibration.threshold,
                                     "heldout_accuracy": run.calibration.heldout_accuracy}},
        "judge": {"dataset": "evals/datasets/judge.jsonl", "judge": judge.judge, "n": judge.overall.n,
                  "precision": judge.overall.precision, "recall": judge.overall.recall},
    }


def run_both(index_dir: Path) -> tuple[EvalRun, JudgeReport]:
    """The examples eval on a fresh index under default settings, and the judge eval (one model load)."""
    from evals.dataset import load_dataset, load_judge_dataset
    from evals.judge_eval import evaluate_judge, similarity_from
    from evals.runner import run_eval
    from index.embedding import MiniLMEmbedder
    from rag.settings import Settings
    from rag.support import HeuristicJudge

    embedder = MiniLMEmbedder()
    run = run_eval(load_dataset(EXAMPLES_DATASET), EXAMPLES_DOCS, index_dir=index_dir, settings=Settings(),
                   embedder=embedder, progress=sys.stderr.isatty(), dataset=str(EXAMPLES_DATASET))
    judge = evaluate_judge(load_judge_dataset(DEFAULT_JUDGE_DATASET), HeuristicJudge(similarity_from(embedder)))
    return run, judge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.gate", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store this run's numbers as the new baseline")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rag-gate-") as tmp:
        run, judge = run_both(Path(tmp))
    if args.write:
        BASELINE.write_text(json.dumps(baseline_from(run, judge), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {BASELINE}")
        return 0
    baseline = load_baseline()
    worse = regressions(run.summary, baseline)
    for d in worse:
        print(f"regression: {d.metric} {d.old} -> {d.new}")
    if judge_regressed(judge.overall.precision, baseline):
        print(f"regression: judge precision {baseline['judge']['precision']} -> {judge.overall.precision}")
        return 1
    print("ok" if not worse else f"{len(worse)} regression(s)")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
