"""SQLite's "database is locked" from Chroma is waited out, not passed on or silently swallowed.

Chroma 1.5.9 refused a ``modify`` right after creating a collection with this message about 1 time in
120 with the other core busy; ``widen_search_beam`` swallowed it, so an older index kept the narrow
search beam (the flaky ``test_dense_recall`` case)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from index import server_guard
from index.server_guard import is_busy, translated
from index.store import SEARCH_EF, ChunkStore, make_client

BUSY = "InternalError: Database error: error returned from database: (code: 5) database is locked"


class _Flaky:
    """A collection whose ``modify`` is refused as busy ``busy_times`` times, then runs."""

    def __init__(self, busy_times: int, message: str = BUSY) -> None:
        self.busy_times = busy_times
        self.message = message
        self.calls = 0

    def modify(self, **kwargs: Any) -> str:
        self.calls += 1
        if self.calls <= self.busy_times:
            raise RuntimeError(self.message)
        return "done"


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_guard.time, "sleep", lambda seconds: None)


def test_a_busy_database_is_asked_again_until_it_answers() -> None:
    flaky = _Flaky(busy_times=3)
    assert translated(flaky, lambda exc: None).modify(metadata={}) == "done"
    assert flaky.calls == 4


def test_a_database_that_stays_busy_is_reported_after_the_retries() -> None:
    flaky = _Flaky(busy_times=100)
    with pytest.raises(RuntimeError, match="database is locked"):
        translated(flaky, lambda exc: None).modify(metadata={})
    assert flaky.calls == len(server_guard.BUSY_RETRY_DELAYS) + 1


def test_other_errors_are_not_retried() -> None:
    flaky = _Flaky(busy_times=100, message="(code: 8) attempt to write a readonly database")
    with pytest.raises(RuntimeError, match="readonly"):
        translated(flaky, lambda exc: None).modify(metadata={})
    assert flaky.calls == 1
    assert not is_busy(RuntimeError("(code: 13) database or disk is full"))
    assert is_busy(RuntimeError(BUSY))


def test_an_older_collection_gets_the_wide_beam_even_when_sqlite_is_busy_at_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(tmp_path / "index")
    client.create_collection("older", embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                             metadata={"embedding_model": "synthetic", "dimension": 8, "rag_schema": 1,
                                       "chroma_major": _chroma_major(), "generation": 0})
    real = type(client.get_collection("older")).modify
    refusals = {"left": 2}

    def busy_then_real(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "configuration" in kwargs and refusals["left"]:
            refusals["left"] -= 1
            raise RuntimeError(BUSY)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(client.get_collection("older")), "modify", busy_then_real)
    ChunkStore(client, "older", "synthetic", 8)
    assert refusals["left"] == 0
    assert client.get_collection("older").configuration["hnsw"]["ef_search"] == SEARCH_EF


def _chroma_major() -> int:
    import chromadb

    return int(chromadb.__version__.split(".")[0])
