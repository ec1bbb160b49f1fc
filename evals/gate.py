"""The CI gate: the examples eval, the Python-docs eval and the judge eval must not fall below ``evals/baseline.json``.

The Python-docs set (``evals/datasets/pydocs.jsonl``) asks 180 questions about 40 pages of
Python's own documentation (Debian's ``python3.11-doc``): documents nobody on this project wrote.

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
from evals.corpora import PYDOCS_DATASET, pydocs_folder
from evals.judge_eval import DATASETS, DEFAULT_JUDGE_DATASET, JudgeReport
from evals.runner import EvalRun
from evals.scoring import QUALITY_METRICS
from rag.errors import UsageError

BASELINE = Path(__file__).resolve().parent / "baseline.json"
EXAMPLES_DATASET = DATASETS / "examples.jsonl"
EXAMPLES_DOCS = Path(__file__).resolve().parent.parent / "examples"
TOLERANCE = 0.02


def load_baseline(path: Path = BASELINE) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


GATED = ("examples", "pydocs")
"""The eval sets the gate runs, by their key in ``baseline.json``."""


def gated_dataset(name: str, workdir: Path) -> tuple[Path, Path]:
    """The dataset file and the documents folder of a gated eval set."""
    if name == "examples":
        return EXAMPLES_DATASET, EXAMPLES_DOCS
    if name == "pydocs":
        return PYDOCS_DATASET, pydocs_folder(workdir / "pydocs-pages")
    raise UsageError(f"unknown eval set {name!r}; choose one of: {', '.join(GATED)}")


def regressions(summary: dict[str, Any], baseline: dict[str, Any], tolerance: float = TOLERANCE,
                name: str = "examples") -> list[Delta]:
    """Metrics of ``summary`` worse than the baseline's metrics for eval set ``name`` by more than ``tolerance``."""
    return [d for d in compare_summaries(baseline[name]["metrics"], summary, tolerance) if d.regressed]


def judge_regressed(precision: float | None, baseline: dict[str, Any], tolerance: float = TOLERANCE) -> bool:
    """``precision``: the held-out split's (``baseline["judge"]["precision"]`` is the held-out figure too)."""
    return precision is None or precision < baseline["judge"]["precision"] - tolerance


def judge_figures(judge: JudgeReport) -> tuple[float | None, float | None]:
    """The gated judge figures: "supported" precision and recall on the held-out split."""
    split = judge.heldout.overall if judge.heldout else judge.overall
    return split.precision, split.recall


def _set_entry(name: str, run: EvalRun) -> dict[str, Any]:
    s = run.summary
    docs = "examples" if name == "examples" else "pydocs_pages.txt under /usr/share/doc/python3.11/html"
    return {"dataset": f"evals/datasets/{name}.jsonl", "docs": docs, "k": s["k"], "backend": s["backend"],
            "judge": s["judge"], "n_cases": s["n_cases"], "metrics": {m: s[m] for m in QUALITY_METRICS},
            "calibration": {"threshold": run.calibration.threshold,
                            "heldout_accuracy": run.calibration.heldout_accuracy}}


def baseline_from(runs: dict[str, EvalRun], judge: JudgeReport) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "about": "Written by 'python -m evals.gate --write' from a real run; tests/integration/test_eval_gate.py "
                 "fails when a metric falls below these numbers by more than the tolerance.",
        "tolerance": TOLERANCE,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    entry.update({name: _set_entry(name, run) for name, run in runs.items()})
    precision, recall = judge_figures(judge)
    dev = judge.splits.get("dev")
    entry["judge"] = {"dataset": "evals/datasets/judge.jsonl", "judge": judge.judge, "n": judge.overall.n,
                      "split": "heldout", "n_heldout": judge.heldout.overall.n if judge.heldout else None,
                      "precision": precision, "recall": recall,
                      "dev_precision": dev.overall.precision if dev else None,
                      "dev_recall": dev.overall.recall if dev else None}
    return entry


def run_gated(name: str, workdir: Path, embedder: Any = None) -> EvalRun:
    """One gated eval set on a fresh index in ``workdir`` under default settings."""
    from evals.dataset import load_dataset
    from evals.runner import run_eval
    from rag.settings import Settings

    dataset, docs = gated_dataset(name, workdir)
    return run_eval(load_dataset(dataset), docs, index_dir=workdir / f"index-{name}",
                    settings=Settings.load(config_file=workdir / "no-config.toml", env={}), embedder=embedder,
                    progress=sys.stderr.isatty(), dataset=str(dataset))


def run_all(workdir: Path) -> tuple[dict[str, EvalRun], JudgeReport]:
    """Every gated eval set and the judge eval (one model load)."""
    from evals.dataset import load_judge_dataset
    from evals.judge_eval import evaluate_judge, similarity_from
    from rag.assistant import default_embedder
    from rag.check.support import offline_judge

    embedder = default_embedder()
    runs = {name: run_gated(name, workdir, embedder) for name in GATED}
    # The default judge (rules only): the opt-in entailment model is never gated (README "The support judge").
    judge = evaluate_judge(load_judge_dataset(DEFAULT_JUDGE_DATASET), offline_judge(similarity_from(embedder)))
    return runs, judge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.gate", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store this run's numbers as the new baseline")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rag-gate-") as tmp:
        runs, judge = run_all(Path(tmp))
    if args.write:
        BASELINE.write_text(json.dumps(baseline_from(runs, judge), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {BASELINE}")
        return 0
    baseline = load_baseline()
    failed = False
    for name, run in runs.items():
        worse = regressions(run.summary, baseline, name=name)
        for d in worse:
            print(f"regression ({name}): {d.metric} {d.old} -> {d.new}")
        failed = failed or bool(worse)
    precision, _ = judge_figures(judge)
    if judge_regressed(precision, baseline):
        print(f"regression: judge held-out precision {baseline['judge']['precision']} -> {precision}")
        failed = True
    print("regression(s) found" if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
