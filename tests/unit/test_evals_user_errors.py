"""``rag eval`` as a user with a dataset of their own meets it: a bad line is named and skipped while
the rest runs, dataset faults are listed for passed cases too, folders that cannot be used are one
sentence, and ``--compare`` refuses runs of different datasets and says which settings differ."""

from __future__ import annotations

import errno
import io
import json
import pathlib
from pathlib import Path
from typing import Any

import pytest

from evals.cli import format_summary
from evals.compare import compare_runs
from evals.dataset import read_dataset
from evals.followups import read_conversations
from evals.report import render_answer, render_markdown, write_reports
from evals.runner import EvalRun, open_eval_assistant, run_eval
from evals.scoring import CaseResult, SentenceView
from rag.cli import main
from rag.errors import IndexFolderError, UsageError
from rag.settings import Settings
from tests.fakes import WordEmbedder

GOOD = {"id": "q1", "question": "When did the last keeper leave?", "evidence": ["The last keeper left in 1994"],
        "source": "light.md"}


def test_every_bad_line_is_named_and_the_lines_after_it_still_load(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    lines = [b"\xef\xbb\xbf" + json.dumps(GOOD).encode(),  # a byte-order mark, as some editors write
             b'{"id": "q2", "evidence": ["x"]}',
             b'{"id": "q3", "question": "caf\xe9?"}',  # Latin-1, not UTF-8
             b'{"id": "q1", "question": "again?"}',
             b'{"id": "q5", "question": "Is this',
             json.dumps({"id": "q6", "question": "Who?", "answerable": False}).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    read = read_dataset(path)
    assert [c.id for c in read.items] == ["q1", "q6"]
    assert [(e.line, e.problem.split(" (")[0]) for e in read.problems] == [
        (2, "'question' is missing"), (3, "not UTF-8"), (4, "duplicate id 'q1'"), (5, "not valid JSON")]
    assert "byte 0xe9 at column 30" in str(read.problems[1])
    assert str(read.problems[0]).startswith("mine.jsonl line 2: ")


def test_eval_with_no_usable_line_names_each_one_and_runs_nothing(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_bytes(b'{"id": "a", "question": ""}\n{"id": "b", "question": "x\xff"}\n')
    assert main(["eval", str(path), "--docs", str(tmp_path)], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "mine.jsonl line 1: 'question' is empty" in err and "mine.jsonl line 2: not UTF-8" in err
    assert err.strip().endswith("no line can be used (2 skipped, each named above): fix them and run again")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "light.md").write_text("# Harrow Point\n\nThe lighthouse was built in 1871. The last keeper left in "
                                     "1994 when the light was automated.\n", encoding="utf-8")
    return folder


def _run(tmp_path: Path, docs: Path, rows: list[dict[str, Any]]) -> EvalRun:
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n", encoding="utf-8")
    read = read_dataset(path)
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    assistant = open_eval_assistant(docs, tmp_path / "index", settings, WordEmbedder())
    return run_eval(read.items, docs, assistant=assistant, dataset=str(path), skipped=read.problems)


def test_dataset_faults_are_reported_for_passed_cases_and_skipped_lines_are_kept(tmp_path: Path,
                                                                                 docs: Path) -> None:
    rows = [{**GOOD, "source": "lighthouse.md"},  # passes, but names a file that is not there
            {"id": "q2", "question": "When was the lighthouse built?", "evidence": ["built of marble in 1871"]}]
    run = _run(tmp_path, docs, rows)
    first, second = run.cases
    assert not first.failed and first.line == 1
    assert first.dataset_problems == [f"source file 'lighthouse.md' is not under {docs}: give the name of a "
                                      "file there"]
    assert "is in no indexed chunk" in second.dataset_problems[0]
    assert run.summary["n_skipped_lines"] == 1 and run.summary["n_dataset_problems"] == 2
    written = json.loads(write_reports(run, tmp_path / "out")[0].read_text(encoding="utf-8"))
    assert written["meta"]["skipped_lines"] == [{"line": 3, "problem": "not valid JSON (Expecting property name "
                                                 "enclosed in double quotes at column 2)"}]
    assert written["cases"][0]["dataset_problems"] == first.dataset_problems
    report = render_markdown(run)
    section = report.split("## Problems in the dataset and documents")[1].split("##")[0]
    assert "line 3: skipped, not run" in section
    assert "line 1 (`q1`): source file 'lighthouse.md'" in section and "line 2 (`q2`)" in section


def test_results_json_is_never_left_cut_short(tmp_path: Path, docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(tmp_path, docs, [GOOD])
    out = tmp_path / "out"
    write_reports(run, out)
    before = (out / "results.json").read_text(encoding="utf-8")
    real = pathlib.Path.write_text

    def disk_fills(self: Path, text: str, *args: Any, **kwargs: Any) -> int:
        if self.name.startswith("results.json"):
            real(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", disk_fills)
    with pytest.raises(OSError):
        write_reports(run, out)
    assert (out / "results.json").read_text(encoding="utf-8") == before


def test_an_eval_index_folder_that_cannot_be_made_is_one_sentence(tmp_path: Path, docs: Path) -> None:
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    with pytest.raises(UsageError, match="is a file"):
        open_eval_assistant(docs, docs / "light.md", settings, WordEmbedder())
    with pytest.raises(IndexFolderError, match="virtual file system"):
        open_eval_assistant(docs, "/proc/rag-eval-index", settings, WordEmbedder())


def test_an_out_folder_that_cannot_be_written_stops_before_the_run(tmp_path: Path, docs: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "mine.jsonl"
    dataset.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    code = main(["eval", str(dataset), "--docs", str(docs), "--out", str(docs / "light.md")], out=io.StringIO())
    assert code == 2
    assert f"--out {docs / 'light.md'} is a file" in capsys.readouterr().err


def _results(folder: Path, ids: list[str], **summary: Any) -> Path:
    folder.mkdir()
    cases = [{"id": i, "question": f"{i}?", "evidence": [], "answerable": True, "refused": False} for i in ids]
    data = {"summary": {"n_cases": len(ids), "k": 5, "backend": "extractive", "judge": "heuristic", "hit_at_1": 0.5,
                        **summary}, "meta": {"settings": {"widen": 1}}, "cases": cases}
    (folder / "results.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_compare_refuses_runs_of_different_datasets_even_of_the_same_size(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    old = _results(tmp_path / "old", ["a", "b", "c"])
    new = _results(tmp_path / "new", ["a", "b", "d"])
    assert main(["eval", "--compare", str(old), str(new)], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "the two runs are of different datasets" in err
    assert f"1 case(s) only in {old} (c)" in err and f"1 only in {new} (d)" in err


def test_compare_says_first_which_settings_and_cases_differ(tmp_path: Path) -> None:
    old = _results(tmp_path / "old", ["a", "b"])
    new = _results(tmp_path / "new", ["a", "b"], k=3, judge="heuristic:nli")
    data = json.loads((new / "results.json").read_text())
    data["cases"][1]["question"] = "b, reworded?"
    (new / "results.json").write_text(json.dumps(data))
    status, text, out = compare_runs(old, new)
    assert status == 0
    assert text.splitlines()[:3] == ["the runs differ in 2 setting(s); each delta below includes their effect:",
                                     "  k: 5 -> 3", "  judge: 'heuristic' -> 'heuristic:nli'"]
    assert out["settings_differ"] == ["k: 5 -> 3", "judge: 'heuristic' -> 'heuristic:nli'"]
    assert "1 case(s) have another question, evidence or answerability than in the old run: b" in text
    header, *rows = text.splitlines()[3:8]
    assert all(len(r.split()[0]) < header.index("old") for r in rows)  # names never run into the numbers


def test_a_results_file_cut_short_says_to_run_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _results(tmp_path / "old", ["a"])
    cut = _results(tmp_path / "cut", ["a"])
    text = (cut / "results.json").read_text()
    (cut / "results.json").write_text(text[: len(text) // 2])
    assert main(["eval", "--compare", str(old), str(cut)], out=io.StringIO()) == 2
    assert "is cut short or is not JSON" in capsys.readouterr().err


def test_the_terminal_summary_shows_drafts_and_what_each_mean_is_over() -> None:
    summary = {"n_cases": 3, "n_answerable": 3, "n_unanswerable": 0, "n_refused": 3, "n_withdrawn": 3, "k": 5,
               "backend": "gguf", "judge": "heuristic", "faithfulness": None, "draft_faithfulness": 0.0,
               "hit_at_1": 1.0, "n_scored": {"hit_at_1": 3, "faithfulness": 0, "draft_faithfulness": 3,
                                             "evidence_containment": 3, "answer_f1": 1}}
    text = format_summary(summary)
    assert "draft faithfulness 0.000   (over 3 drafted answers, 3 withdrawn: refused after drafting)" in text
    assert "(over 3 answerable cases with evidence)" in text and "(over 0 answers given)" in text
    assert "3 refused, 0 answered" in text


def test_a_withdrawn_draft_is_shown_sentence_by_sentence_in_the_report() -> None:
    case = CaseResult(id="q", question="q?", answerable=True, reference=None, evidence=(), source=None,
                      answer="The documents do not say.", refused=True,
                      sentences=[SentenceView("The moon is cheese.", "unsupported", 0.1, ("words not in the passage: "
                                                                                          "cheese",), ())],
                      retrieved=[], top_dense=0.7, timings_ms={}, metrics={})
    text = "\n".join(render_answer(case))
    assert "withdrawn draft" in text
    assert "The moon is cheese." in text and "**unsupported**" in text


def test_turns_given_as_one_string_are_refused_not_split_into_letters(tmp_path: Path) -> None:
    path = tmp_path / "conv.jsonl"
    path.write_text('{"id": "a", "turns": "what about bisect?", "evidence": ["e"]}\n{"turns": ["q1", "q2"], '
                    '"evidence": ["e"]}\n[1]\n', encoding="utf-8")
    read = read_conversations(path)
    assert [c.id for c in read.items] == ["line-2"]
    assert [str(e) for e in read.problems] == [
        "conv.jsonl line 1: 'turns' must be a list of at least 2 non-empty strings",
        "conv.jsonl line 3: expected a JSON object"]


def test_a_threshold_that_no_drop_can_exceed_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _results(tmp_path / "old", ["a"])
    new = _results(tmp_path / "new", ["a"], hit_at_1=0.0)
    assert main(["eval", "--compare", str(old), str(new), "--threshold", "nan"], out=io.StringIO()) == 2
    assert "--threshold must be a number of 0 or more, not nan" in capsys.readouterr().err


@pytest.fixture
def cli_without_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``rag eval`` through the CLI with the word-hashing fake in place of MiniLM."""
    import evals.runner

    real = evals.runner.run_eval

    def with_fake(*args: Any, **kwargs: Any) -> EvalRun:
        return real(*args, **{**kwargs, "embedder": WordEmbedder(), "index_dir": tmp_path / "index"})

    monkeypatch.setattr(evals.runner, "run_eval", with_fake)


@pytest.mark.usefixtures("cli_without_model")
def test_the_cli_runs_the_good_lines_exits_1_and_lists_files_that_failed(tmp_path: Path, docs: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (docs / "broken.pdf").write_bytes(b"\x00\x01 not a pdf")
    dataset = tmp_path / "mine.jsonl"
    dataset.write_text(json.dumps(GOOD) + '\n{"id": "q2"}\n', encoding="utf-8")
    out = io.StringIO()
    assert main(["eval", str(dataset), "--docs", str(docs), "--out", str(tmp_path / "out")], out=out) == 1
    text = out.getvalue()
    assert text.startswith("1 cases (1 answerable, 0 unanswerable)")
    assert "1 line(s) of mine.jsonl skipped, not run (listed on stderr above): lines 2" in text
    assert "1 file(s) under --docs could not be indexed" in text and f"{docs / 'broken.pdf'}: " in text
    assert "skipped mine.jsonl line 2: 'question' is missing" in capsys.readouterr().err
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "- document `broken.pdf` could not be indexed" in report


@pytest.mark.usefixtures("cli_without_model")
def test_docs_with_nothing_indexable_is_one_sentence_not_a_run_of_misses(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.pdf").write_bytes(b"\x00\x01 not a pdf")
    dataset = tmp_path / "mine.jsonl"
    dataset.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    assert main(["eval", str(dataset), "--docs", str(empty)], out=io.StringIO()) == 2
    assert f"nothing under {empty} could be indexed; 1 file(s) failed, e.g. a.pdf: " in capsys.readouterr().err


def test_a_source_named_by_its_file_name_in_a_subfolder_is_found(tmp_path: Path, docs: Path) -> None:
    (docs / "handbook").mkdir()
    (docs / "light.md").rename(docs / "handbook" / "light.md")
    run = _run(tmp_path, docs, [GOOD, {**GOOD, "id": "q2", "source": "handbook/light.md"},
                                {**GOOD, "id": "q3", "source": "other/light.md"}])
    assert [c.dataset_problems for c in run.cases[:2]] == [[], []]
    assert run.cases[2].dataset_problems == [f"source file 'other/light.md' is not under {docs}: give the name "
                                             "of a file there"]
