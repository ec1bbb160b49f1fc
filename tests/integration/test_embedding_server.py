"""The embedding-server back end against a real OpenAI-compatible server: infinity-emb serving the
packaged MiniLM folder on 127.0.0.1 (tests/integration/servers.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import index.ingest
from index.embedding import MiniLMEmbedder, minilm_path
from index.remote_embedding import RemoteEmbedder
from rag import cli
from rag.assistant import Assistant
from rag.doctor import run_checks
from tests.integration.conftest import EXAMPLE_FILES, clean_settings
from tests.integration.servers import EmbedServer, start_embed_server

QUESTIONS = ("what did Zelenskyy reject?", "what is bleaching?", "how long should sourdough proof?")


@pytest.fixture(scope="module")
def embed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbedServer]:
    server = start_embed_server(minilm_path(), tmp_path_factory.mktemp("infinity"))
    yield server
    server.stop()


def chunk_ids(assistant: Assistant) -> set[str]:
    return {c.chunk_id for c in assistant.chunks()}


def answer_key(assistant: Assistant, question: str) -> tuple[str, bool, list[str]]:
    answer = assistant.ask(question)
    return answer.text, answer.refused, [c.chunk_id for c in answer.citations]


def test_the_server_reports_minilm_and_its_vectors_match_the_local_ones(embed_server: EmbedServer,
                                                                        embedder: MiniLMEmbedder) -> None:
    remote = RemoteEmbedder.connect(embed_server.url, embedder, batch_size=2)
    assert (remote.name, remote.dimension) == (embedder.name, embedder.dimension)
    texts = ["Coral reefs bleach when the water is too warm.", "what did Zelenskyy reject?",
             "Sourdough needs a lively starter.", "x", "a long passage " * 60]
    cosines = np.sum(remote.embed(texts) * embedder.embed(texts), axis=1)
    assert cosines.min() >= 0.999, cosines


class TextVectorsOnly:
    """The local MiniLM without ``embed_spans``: an index built as the server builds it (no sentence
    vectors: a server cannot pool them from a chunk's forward pass)."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.count_tokens, self.token_offsets, self.embed = inner.count_tokens, inner.token_offsets, inner.embed


def test_ingest_through_the_server_gives_the_local_chunks_vectors_and_answers(
        tmp_path: Path, embed_server: EmbedServer, examples_dir: Path, examples_assistant: Assistant,
        embedder: MiniLMEmbedder) -> None:
    # Through the settings, as a user would: default_embedder picks the server for RAG_EMBED_URL.
    through_server = Assistant(tmp_path / "server", settings=clean_settings(tmp_path, embed_url=embed_server.url))
    assert isinstance(through_server.embedder, RemoteEmbedder)
    report = through_server.add(examples_dir)
    assert report.ok and report.files_added == len(EXAMPLE_FILES)
    ids = chunk_ids(examples_assistant)
    assert chunk_ids(through_server) == ids
    local, remote = examples_assistant.store.vectors(sorted(ids)), through_server.store.vectors(sorted(ids))
    assert min(float(local[i] @ remote[i]) for i in ids) >= 0.999
    assert through_server.sentences.ready() is None  # no sentence vectors: readers do without
    # The same index built locally without sentence vectors answers every question the same way.
    local_texts = Assistant(tmp_path / "local", embedder=TextVectorsOnly(embedder),  # type: ignore[arg-type]
                            settings=clean_settings(tmp_path))
    assert local_texts.add(examples_dir).ok
    for question in QUESTIONS:
        assert answer_key(through_server, question) == answer_key(local_texts, question), question


def test_a_local_index_opens_and_answers_through_the_server(embed_server: EmbedServer, examples_index: Path,
                                                           examples_assistant: Assistant) -> None:
    opened = Assistant(examples_index, settings=clean_settings(examples_index.parent, embed_url=embed_server.url),
                       create=False)
    for question in QUESTIONS:
        assert answer_key(opened, question) == answer_key(examples_assistant, question), question
    server_check = next(c for c in run_checks(opened.settings) if c.name == "embedding server")
    assert server_check.ok and "'all-MiniLM-L6-v2' (384 dimensions)" in server_check.detail


def test_a_server_killed_mid_ingest_stops_in_one_sentence_and_the_next_run_completes(
        tmp_path: Path, embed_server: EmbedServer, examples_dir: Path, examples_assistant: Assistant,
        embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no rag.toml
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(index.ingest, "_EMBED_BATCH_CHUNKS", 1)  # one embedding call per file
    calls = {"n": 0}
    real_embed = RemoteEmbedder.embed

    def embed(self: RemoteEmbedder, texts: list[str]) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:  # two files are embedded and written: the server dies before the third
            embed_server.kill()
        return real_embed(self, texts)

    monkeypatch.setattr(RemoteEmbedder, "embed", embed)
    args = ["ingest", str(examples_dir), "--index", str(tmp_path / "index"), "--embed-url", embed_server.url]

    code = cli.main(args)
    out, err = capsys.readouterr()
    assert code == 3
    assert err.count("\n") == 1 and err.startswith(f"rag ingest: the embedding server at {embed_server.url} "
                                                   "stopped answering (")
    assert "after 2 files were indexed; start it again and re-run 'rag ingest'" in err
    written = Assistant(tmp_path / "index", embedder=embedder, settings=clean_settings(tmp_path), create=False)
    stored = chunk_ids(written)
    assert len(written.sources()) == 2 and stored < chunk_ids(examples_assistant)
    assert out.startswith(f"indexed: 2 added, 0 updated, 0 unchanged, 0 failed\nchunks: +{len(stored)} -0, "
                          f"{len(stored)} in the index")

    embed_server.start()
    code = cli.main(args)
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.startswith(f"indexed: {len(EXAMPLE_FILES) - 2} added, 0 updated, 2 unchanged, 0 failed")
    assert chunk_ids(written) == chunk_ids(examples_assistant)
