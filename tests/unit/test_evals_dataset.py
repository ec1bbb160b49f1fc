"""Dataset parsing: good files load; each kind of bad line gives an error that names the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.dataset import DatasetError, EvalCase, load_dataset, load_judge_dataset
from evals.judge_eval import DEFAULT_JUDGE_DATASET

ROOT = Path(__file__).resolve().parents[2]
GOOD: dict[str, Any] = {"id": "q1", "question": "What did Zelenskyy reject?",
                        "evidence": ["refused to give up any Ukrainian land"], "source": "talks.md",
                        "answer": "Ceding land."}


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_cases_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(GOOD), "",
                 json.dumps({"id": "q2", "question": "Capital of Canada?", "answerable": False, "tag": "geo"}))
    cases = load_dataset(path)
    assert cases[0] == EvalCase(id="q1", question=GOOD["question"], evidence=tuple(GOOD["evidence"]),
                                answer="Ceding land.", source="talks.md", answerable=True, line=1)
    assert cases[1].answerable is False
    assert cases[1].evidence == ()
    assert cases[1].line == 3  # blank lines are skipped but still counted
    assert cases[1].extra == {"tag": "geo"}


def test_id_defaults_to_the_line_number(tmp_path: Path) -> None:
    cases = load_dataset(write(tmp_path, json.dumps({"question": "Why?", "evidence": ["because"]})))
    assert cases[0].id == "line-1"


@pytest.mark.parametrize(("bad_line", "message"), [
    ('{"id": "q2", "question": "Why?"', "line 2: not valid JSON"),
    ('["a list"]', "line 2: expected a JSON object, got list"),
    ('{"id": "q2", "evidence": ["x"]}', "line 2: 'question' is missing"),
    ('{"id": "q2", "question": "   "}', "line 2: 'question' is empty"),
    ('{"id": "q2", "question": 42}', "line 2: 'question' must be a string, got int"),
    ('{"id": "q2", "question": "Why?", "evidence": "a single string"}',
     "line 2: 'evidence' must be a list of strings, got string"),
    ('{"id": "q2", "question": "Why?", "evidence": ["ok", 3]}', "line 2: 'evidence' item 1 must be a non-empty"),
    ('{"id": "q2", "question": "Why?", "answerable": "no"}',
     "line 2: 'answerable' must be true or false, got string \"no\""),
    ('{"id": "q2", "question": "Why?", "answerable": 0}', "line 2: 'answerable' must be true or false, got int 0"),
    ('{"id": "q2", "question": "Why?", "answerable": false, "evidence": ["x"]}',
     "line 2: an unanswerable case ('answerable': false) cannot list evidence"),
    ('{"id": "q1", "question": "Why?"}', "line 2: duplicate id 'q1' (first used on line 1)"),
    ('{"id": ["q2"], "question": "Why?"}', "line 2: 'id' must be a non-empty string"),
])
def test_bad_line_is_named(tmp_path: Path, bad_line: str, message: str) -> None:
    path = write(tmp_path, json.dumps(GOOD), bad_line)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(err.value).startswith("cases.jsonl " + message)
    assert err.value.line == 2


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "absent.jsonl")
    with pytest.raises(DatasetError, match="has no cases"):
        load_dataset(write(tmp_path, "", "  "))


def test_bundled_examples_dataset_parses() -> None:
    cases = load_dataset(ROOT / "evals" / "datasets" / "examples.jsonl")
    assert len(cases) == 49
    assert sum(not c.answerable for c in cases) == 10
    assert all(c.evidence for c in cases if c.answerable)


def test_judge_dataset_parses_and_checks_labels(tmp_path: Path) -> None:
    cases = load_judge_dataset(DEFAULT_JUDGE_DATASET)
    assert len(cases) >= 150
    assert {c.kind for c in cases} >= {"supported", "negation", "swapped_subject", "antonym", "changed_date",
                                       "changed_name", "changed_number", "invented", "unrelated"}
    heldout = [c for c in cases if c.split == "heldout"]
    assert {c.split for c in cases} == {"dev", "heldout"}
    assert sum(c.kind == "swapped_subject" for c in heldout) >= 7
    assert sum(c.supported for c in heldout) >= 25  # recall is measured on real paraphrases too
    assert len({c.id for c in cases}) == len(cases)
    # No held-out passage is shared with a development pair: tuning on one cannot leak into the other.
    assert not {c.passage for c in heldout} & {c.passage for c in cases if c.split == "dev"}
    bad = tmp_path / "judge.jsonl"
    bad.write_text(json.dumps({"id": "j1", "sentence": "s", "passage": "p", "supported": "yes"}) + "\n")
    with pytest.raises(DatasetError, match="line 1: 'supported' must be true or false"):
        load_judge_dataset(bad)
    bad.write_text(json.dumps({"id": "j1", "sentence": "s", "passage": "p", "supported": True, "split": "test"}))
    with pytest.raises(DatasetError, match="'split' must be one of dev, heldout"):
        load_judge_dataset(bad)
