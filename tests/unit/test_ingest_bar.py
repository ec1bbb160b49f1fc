"""The ingest progress bar names its stage and counts in that stage's unit; Ctrl-C ends with what was
kept and what to do."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

import rag.cli
from rag.cli import main
from rag.ingest_bar import IngestBar
from rag.settings import Settings
from tests.fakes import WordEmbedder


def test_the_bar_counts_files_while_reading_and_passages_while_embedding() -> None:
    bar = IngestBar(io.StringIO())
    for n in range(1, 4):
        bar("read", f"/docs/f{n}.txt", n, 6)
    assert (bar.bar.desc, bar.bar.unit, bar.bar.n, bar.bar.total) == ("reading", "file", 3, 6)
    bar("embedded", "", 128, 500)  # the files read so far are embedded as one batch of passages
    assert (bar.bar.desc, bar.bar.unit, bar.bar.n, bar.bar.total) == ("embedding", "passage", 128, 500)
    assert bar.bar.postfix == "files read 3/6"
    bar("done", "/docs/f1.txt", 0, 6)
    bar("failed", "/docs/f2.txt: could not write", 0, 6)
    bar("read", "/docs/f4.txt", 4, 6)  # the next batch's files: back to reading, not 100% of passages
    assert (bar.bar.desc, bar.bar.unit, bar.bar.n, bar.bar.total) == ("reading", "file", 4, 6)
    assert bar.written == 1
    bar.close()


def test_without_a_stream_there_is_no_bar_but_written_files_are_counted() -> None:
    bar = IngestBar(None)
    bar("read", "/docs/a.txt", 1, 1)
    bar("done", "/docs/a.txt", 0, 1)
    assert bar.bar is None and bar.written == 1


class _StoppedAssistant:
    """Writes two files, then the user presses Ctrl-C."""

    def add(self, paths: Any, prune: bool = False, progress: Any = None) -> None:
        for name in ("/docs/a.txt", "/docs/b.txt"):
            progress("read", name, 1, 3)
            progress("done", name, 0, 3)
        raise KeyboardInterrupt


def test_ctrl_c_during_ingest_says_how_many_files_were_written_and_to_re_run(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(rag.cli, "open_assistant", lambda args, create=True: _StoppedAssistant())
    assert main(["ingest", "/docs", "--progress"]) == 130
    err = capsys.readouterr().err
    last = err.splitlines()[-1]  # on a line of its own, not after the bar's (which is closed first)
    assert last == ("rag ingest: interrupted after 2 files were written; every file written is indexed whole, "
                    "re-run 'rag ingest' to index the rest")


def test_rag_evals_indexing_bar_shows_the_embedding_too(tmp_path: Path) -> None:
    # Its own file bar closed once the last file was read: the embedding, most of the time, showed nothing.
    from evals.dataset import EvalCase
    from evals.runner import open_eval_assistant, run_eval

    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(2):
        (docs / f"reach-{n}.md").write_text("".join(f"## Reach {n}-{m}\n\nOtters hunt fish in reach {m}.\n\n"
                                                    for m in range(60)), encoding="utf-8")
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    helper = open_eval_assistant(docs, tmp_path / "index", settings, WordEmbedder())
    stream = io.StringIO()
    run_eval([EvalCase("q", "where do otters hunt?", ())], docs, assistant=helper, progress=True,
             progress_stream=stream)
    shown = stream.getvalue()
    counts = [(int(done), int(total)) for done, total in re.findall(r"\| *(\d+)/(\d+) \[", shown)]
    assert counts and all(done <= total for done, total in counts)
    assert "embedding" in shown and (2, 2) in counts
