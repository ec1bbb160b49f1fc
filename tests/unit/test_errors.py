"""One user-facing error base: the CLI prints a RagError's sentence and lets every other exception through."""

from __future__ import annotations

import argparse
from typing import TextIO

import pytest

from bench.corpus import CorpusMissingError as BenchCorpusMissing
from bench.runner import TaskError
from evals.compare import CompareError
from evals.corpora import CorpusMissingError
from evals.dataset import DatasetError
from index.errors import RagError, UsageError
from index.ingest import IngestInterrupted
from index.lock import IndexBusyError
from index.records import LoadError
from index.store import IndexMismatchError, IndexMissingError, StoreUnavailableError
from rag import cli
from rag.errors import BackendError, SettingsError

USER_ERRORS = [BackendError, BenchCorpusMissing, CompareError, CorpusMissingError, DatasetError, IndexBusyError,
               IndexMismatchError, IndexMissingError, IngestInterrupted, LoadError, SettingsError,
               StoreUnavailableError, TaskError, UsageError, cli.CommandError]


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda e: e.__name__)
def test_every_user_facing_error_derives_from_the_one_base(error: type[Exception]) -> None:
    assert issubclass(error, RagError)


def _run_with(monkeypatch: pytest.MonkeyPatch, raised: BaseException) -> int:
    def handler(args: argparse.Namespace, out: TextIO) -> int:
        raise raised

    monkeypatch.setattr(cli, "_cmd_sources", handler)
    return cli.main(["sources"])


def test_the_cli_prints_a_rag_errors_sentence_with_its_exit_code(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_with(monkeypatch, SettingsError("setting k (RAG_K) must be at least 1, not 0")) == 2
    assert capsys.readouterr().err == "rag sources: setting k (RAG_K) must be at least 1, not 0\n"
    assert _run_with(monkeypatch, IndexBusyError("another process is writing to the index")) == 1
    assert _run_with(monkeypatch, cli.CommandError("nothing to do", 3)) == 3


def test_anything_else_is_a_bug_and_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyError):
        _run_with(monkeypatch, KeyError("chunk"))
    with pytest.raises(ValueError):  # a plain ValueError is no longer taken for a user's mistake
        _run_with(monkeypatch, ValueError("math domain error"))
