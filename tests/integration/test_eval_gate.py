"""CI gate: the examples eval and the judge eval must not fall below ``evals/baseline.json``.

After a deliberate change that moves a metric, rewrite the baseline with
``.venv/bin/python -m evals.gate --write`` and say why in the commit.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from evals.dataset import load_dataset
from evals.gate import (
    EXAMPLES_DATASET,
    EXAMPLES_DOCS,
    TOLERANCE,
    judge_regressed,
    load_baseline,
    regressions,
)
from evals.runner import run_eval
from index.embedding import MiniLMEmbedder
from rag.cli import main
from rag.settings import Settings


@pytest.fixture(scope="module")
def baseline() -> dict:
    return load_baseline()


def test_examples_eval_meets_baseline(tmp_path: Path, baseline: dict) -> None:
    run = run_eval(load_dataset(EXAMPLES_DATASET), EXAMPLES_DOCS, index_dir=tmp_path / "index", settings=Settings(),
                   embedder=MiniLMEmbedder())
    summary = run.summary
    assert summary["n_cases"] == baseline["examples"]["n_cases"]
    assert run.meta["ingest"]["files_failed"] == []
    worse = regressions(summary, baseline, TOLERANCE)
    failed = "\n".join(f"  {c.id}: {'; '.join(c.problems)}" for c in run.cases if c.failed)
    assert not worse, (
        "metrics fell below evals/baseline.json by more than " + str(TOLERANCE) + ": "
        + ", ".join(f"{d.metric} {d.old} -> {d.new}" for d in worse) + "\nfailed cases:\n" + failed)


def test_eval_judge_precision_meets_baseline(baseline: dict) -> None:
    out = io.StringIO()
    assert main(["eval-judge", "--json"], out=out) == 0
    report = json.loads(out.getvalue())
    assert report["n"] == baseline["judge"]["n"]
    precision = report["overall"]["precision"]
    assert not judge_regressed(precision, baseline, TOLERANCE), (
        f"judge precision {precision} < baseline {baseline['judge']['precision']} - {TOLERANCE}; "
        f"misjudged: {[m['id'] for m in report['mistakes']]}")
