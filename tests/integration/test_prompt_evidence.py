"""``python -m evals.prompt_evidence``: how often the LLM's prompt holds the evidence, by window
(real model, the examples index; no LLM is run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.dataset import load_dataset
from evals.prompt_evidence import main, measure
from rag.answer.prompting import TokenBudget
from rag.assistant import Assistant

pytestmark = pytest.mark.integration

EXAMPLES_SET = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "examples.jsonl"


def test_a_smaller_window_holds_no_more_evidence_and_no_more_than_it_can(examples_assistant: Assistant) -> None:
    cases = load_dataset(EXAMPLES_SET)
    wide, narrow = measure(examples_assistant, cases, contexts=(8192, 1024), widths=(1,))
    assert wide.evidence_in_prompt > 0 and narrow.evidence_in_prompt <= wide.evidence_in_prompt
    assert narrow.mean_prompt_tokens <= TokenBudget(1024, 512).usable < wide.mean_prompt_tokens


def test_the_command_prints_a_row_per_window_and_widening(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    docs = Path(__file__).resolve().parents[2] / "examples"
    assert main([str(EXAMPLES_SET), "--docs", str(docs), "--index", str(tmp_path / "index"),
                 "--contexts", "4096,1024"]) == 0
    rows = [line.split("|")[1:5] for line in capsys.readouterr().out.splitlines()[2:]]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [("4096", "yes"), ("1024", "yes"), ("4096", "no"),
                                                           ("1024", "no")]
    assert all(0.0 <= float(r[2]) <= 1.0 and float(r[3]) > 0 for r in rows)
