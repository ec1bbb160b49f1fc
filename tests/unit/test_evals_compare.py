"""``rag eval --compare OLD NEW``: exit 0 (no regression), 1 (a metric dropped), 2 (bad usage);
and the other usage errors of ``rag eval``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from evals.compare import compare_summaries
from rag.cli import main

BASE: dict[str, Any] = {
    "n_cases": 10, "k": 5, "backend": "extractive", "hit_at_1": 0.80, "hit_at_k": 0.95, "mrr": 0.86, "ndcg": 0.88,
    "faithfulness": 1.0, "citation_recall": 1.0, "citation_precision": 0.9, "answer_f1": 0.4,
    "evidence_containment": 0.7, "refusal_accuracy": 0.5, "wrong_refusal_rate": 0.05,
    "latency_ms": {"total": {"p50": 300.0, "p95": 900.0, "n": 10}},
}


def results_dir(tmp_path: Path, name: str, **changes: Any) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"summary": {**BASE, **changes}, "cases": []}))
    return folder


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["eval", *argv], out=out)
    return code, out.getvalue()


def test_no_change_exits_0(tmp_path: Path) -> None:
    code, text = run("--compare", str(results_dir(tmp_path, "old")), str(results_dir(tmp_path, "new")))
    assert code == 0
    assert "no metric dropped by more than 0.02" in text
    assert "hit_at_1" in text and "latency_ms.total.p50" in text


def test_small_drop_and_any_gain_exit_0(tmp_path: Path) -> None:
    old = results_dir(tmp_path, "old")
    new = results_dir(tmp_path, "new", hit_at_1=0.79, mrr=0.99, wrong_refusal_rate=0.06)
    assert run("--compare", str(old), str(new))[0] == 0


def test_drop_beyond_threshold_exits_1(tmp_path: Path) -> None:
    old = results_dir(tmp_path, "old")
    new = results_dir(tmp_path, "new", citation_precision=0.85)
    code, text = run("--compare", str(old), str(new))
    assert code == 1
    line = next(x for x in text.splitlines() if x.startswith("citation_precision"))
    assert "-0.050" in line and "REGRESSION" in line
    assert "1 regression(s): citation_precision" in text
    # A wider threshold lets the same drop pass.
    assert run("--compare", str(old), str(new), "--threshold", "0.1")[0] == 0


def test_rise_of_wrong_refusals_is_a_regression(tmp_path: Path) -> None:
    old = results_dir(tmp_path, "old")
    new = results_dir(tmp_path, "new", wrong_refusal_rate=0.2)
    code, text = run("--compare", str(old), str(new), "--json")
    assert code == 1
    assert json.loads(text)["regressed"] == ["wrong_refusal_rate"]


def test_results_json_file_paths_work_too(tmp_path: Path) -> None:
    old = results_dir(tmp_path, "old") / "results.json"
    new = results_dir(tmp_path, "new", ndcg=0.5) / "results.json"
    assert run("--compare", str(old), str(new))[0] == 1


def test_missing_or_broken_results_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = results_dir(tmp_path, "old")
    assert run("--compare", str(old), str(tmp_path / "absent"))[0] == 2
    assert "no results.json in" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text("{not json")
    assert run("--compare", str(old), str(broken))[0] == 2
    (broken / "results.json").write_text('{"cases": []}')
    assert run("--compare", str(old), str(broken))[0] == 2
    assert "has no 'summary' object" in capsys.readouterr().err


def test_a_metric_that_becomes_unmeasured_regresses_but_a_new_one_does_not() -> None:
    deltas = {d.metric: d for d in compare_summaries(BASE, {**BASE, "refusal_accuracy": None})}
    assert deltas["refusal_accuracy"].delta is None and deltas["refusal_accuracy"].regressed
    deltas = {d.metric: d for d in compare_summaries({**BASE, "refusal_accuracy": None}, BASE)}
    assert not deltas["refusal_accuracy"].regressed
    older_format = {k: v for k, v in BASE.items() if k != "refusal_accuracy"}
    assert not {d.metric: d for d in compare_summaries(BASE, older_format)}["refusal_accuracy"].regressed


def test_eval_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run()[0] == 2
    assert "give a DATASET and --docs DIR" in capsys.readouterr().err
    dataset = tmp_path / "cases.jsonl"
    dataset.write_text('{"id": "q1"}\n{"id": "q2", "question": "How?", "evidence": "x"}\n')
    assert run(str(dataset), "--docs", str(tmp_path / "absent"))[0] == 2
    assert "--docs " + str(tmp_path / "absent") + " does not exist" in capsys.readouterr().err
    assert run(str(dataset), "--docs", str(tmp_path / "cases.jsonl"))[0] == 2
    assert "cases.jsonl is not a folder" in capsys.readouterr().err
    # No usable line: each is named, then one sentence, and nothing runs.
    assert run(str(dataset), "--docs", str(tmp_path))[0] == 2
    err = capsys.readouterr().err
    assert "cases.jsonl line 1: 'question' is missing" in err
    assert "cases.jsonl line 2: 'evidence' must be a list of strings" in err
    assert "no line can be used (2 skipped" in err
    old = results_dir(tmp_path, "old")
    assert run(str(dataset), "--compare", str(old), str(old))[0] == 2


def test_gate_flags_drops_beyond_tolerance_against_the_stored_baseline() -> None:
    from evals.gate import judge_regressed, load_baseline, regressions

    baseline = load_baseline()
    metrics = dict(baseline["examples"]["metrics"])
    assert regressions(metrics, baseline) == []
    worse = {**metrics, "hit_at_1": metrics["hit_at_1"] - 0.03}
    assert [d.metric for d in regressions(worse, baseline)] == ["hit_at_1"]
    more_refusals = {**metrics, "wrong_refusal_rate": metrics["wrong_refusal_rate"] + 0.03}
    assert [d.metric for d in regressions(more_refusals, baseline)] == ["wrong_refusal_rate"]
    precision = baseline["judge"]["precision"]
    assert not judge_regressed(precision - 0.01, baseline)
    assert judge_regressed(precision - 0.03, baseline)
    assert judge_regressed(None, baseline)
