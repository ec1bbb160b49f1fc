"""CI gate: the examples eval and the judge eval must not fall below ``evals/baseline.json``.

After a deliberate change that moves a metric, rewrite the baseline with
``.venv/bin/python -m evals.gate --write`` and say why in the commit.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from evals.corpora import PYDOCS_ROOT
from evals.gate import GATED, TOLERANCE, judge_regressed, load_baseline, regressions, run_gated
from index.embedding import MiniLMEmbedder
from rag.cli import main


@pytest.fixture(scope="module")
def baseline() -> dict:
    return load_baseline()


@pytest.mark.parametrize("name", GATED)
def test_eval_set_meets_baseline(tmp_path: Path, baseline: dict, name: str) -> None:
    if name == "pydocs" and not PYDOCS_ROOT.is_dir():
        pytest.skip("Python's documentation is not installed (sudo apt-get install python3.11-doc; .ci/setup does)")
    run = run_gated(name, tmp_path, MiniLMEmbedder())
    summary = run.summary
    assert summary["n_cases"] == baseline[name]["n_cases"]
    assert run.meta["ingest"]["files_failed"] == []
    worse = regressions(summary, baseline, TOLERANCE, name=name)
    failed = "\n".join(f"  {c.id}: {'; '.join(c.problems)}" for c in run.cases if c.failed)
    assert not worse, (
        f"{name}: metrics fell below evals/baseline.json by more than {TOLERANCE}: "
        + ", ".join(f"{d.metric} {d.old} -> {d.new}" for d in worse) + "\nfailed cases:\n" + failed)


def test_eval_judge_precision_meets_baseline(baseline: dict) -> None:
    out = io.StringIO()
    assert main(["eval-judge", "--json"], out=out) == 0
    report = json.loads(out.getvalue())
    assert report["n"] == baseline["judge"]["n"]
    precision = report["splits"]["heldout"]["overall"]["precision"]
    assert not judge_regressed(precision, baseline, TOLERANCE), (
        f"judge held-out precision {precision} < baseline {baseline['judge']['precision']} - {TOLERANCE}; "
        f"misjudged development pairs: {[m['id'] for m in report['mistakes']]}")
