"""The embedding-server client against in-process fakes (``httpx.MockTransport``: no socket)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from index.errors import RagError, UsageError
from index.ingest import IngestInterrupted, ingest
from index.remote_embedding import EmbeddingServerError, RemoteEmbedder, model_label
from index.store import ChunkStore, IndexMismatchError, make_client
from tests.fakes import WordEmbedder

URL = "http://embed.test/v1"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeServer:
    """An OpenAI-compatible /embeddings route over ``WordEmbedder`` (so vectors still rank), with
    scripted failures: ``failures`` statuses are answered first, in order, before real answers."""

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2", failures: list[int] | None = None,
                 dimension: int = 64, scale: float = 3.0) -> None:
        self.model = model
        self.failures = list(failures or [])
        self.words = WordEmbedder(dimension=dimension)
        self.scale = scale  # not unit length, like a server that does not normalise
        self.requests: list[dict[str, object]] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": self.model, "object": "model"}]})
        body = json.loads(request.content)
        with self.lock:
            self.requests.append(body)
            if self.failures:
                return httpx.Response(self.failures.pop(0), headers={"Retry-After": "0"}, text="busy")
        vectors = self.words.embed(body["input"]) * self.scale
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        data.reverse()  # the index field, not the order, says which text a vector belongs to
        return httpx.Response(200, json={"object": "list", "model": body["model"], "data": data})


def connect(handler: Handler, **options: object) -> RemoteEmbedder:
    slept: list[float] = []
    embedder = RemoteEmbedder.connect(URL, WordEmbedder(), transport=httpx.MockTransport(handler),
                                      sleep=slept.append, **options)  # type: ignore[arg-type]
    embedder.slept = slept  # type: ignore[attr-defined]
    return embedder


def test_connect_takes_the_model_name_and_dimension_the_server_reports() -> None:
    embedder = connect(FakeServer(dimension=48))
    assert (embedder.model, embedder.name, embedder.dimension) == (
        "sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2", 48)


def test_vectors_are_unit_length_in_the_order_of_the_texts_across_batches() -> None:
    server = FakeServer()
    embedder = connect(server, batch_size=3, concurrency=2)
    words = ["reefs", "coral", "algae", "fish", "tides", "sand", "salt"]
    texts = [f"text number {i} about {word}" for i, word in enumerate(words)]
    vectors = embedder.embed(texts)
    expected = WordEmbedder(dimension=64).embed(texts)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors, expected, atol=1e-5)
    assert [len(r["input"]) for r in server.requests[1:]] == [3, 3, 1]  # type: ignore[arg-type]
    assert all(r["encoding_format"] == "float" for r in server.requests)


def test_429_and_5xx_are_retried_with_backoff_then_succeed() -> None:
    server = FakeServer()
    embedder = connect(server)
    server.failures = [429, 503, 500]
    assert embedder.embed(["reefs"]).shape == (1, 64)
    assert len(server.requests) == 1 + 4  # the probe, three failures, the success
    assert embedder.slept == [0.0, 0.0, 0.0]  # type: ignore[attr-defined]  # the server's Retry-After: 0


def test_a_server_that_keeps_failing_is_one_sentence_with_an_exit_code() -> None:
    server = FakeServer()
    embedder = connect(server, retries=2)
    server.failures = [502] * 10
    with pytest.raises(EmbeddingServerError) as raised:
        embedder.embed(["reefs"])
    message = str(raised.value)
    assert "HTTP 502" in message and "3 attempts" in message and "\n" not in message
    assert raised.value.exit_code == 3
    assert len(server.requests) == 1 + 3


def test_an_unreachable_server_is_one_sentence() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(EmbeddingServerError, match=r"stopped answering \(connection refused"):
        connect(refuse, retries=1)


def test_a_wrong_key_or_route_is_a_usage_error_without_retries() -> None:
    calls = []

    def deny(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, text="no")

    with pytest.raises(UsageError, match="RAG_EMBED_API_KEY"):
        connect(deny)
    assert len(calls) == 1


def test_the_api_key_is_sent_as_a_bearer_token() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return FakeServer()(request)

    connect(handler, api_key="sekrit")
    assert seen and set(seen) == {"Bearer sekrit"}


def test_no_more_than_concurrency_requests_are_in_flight() -> None:
    server = FakeServer()
    state = {"now": 0, "most": 0}
    lock = threading.Lock()
    release = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/embeddings") and json.loads(request.content)["input"] != ["dimension probe"]:
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
                if state["now"] == 3:
                    release.set()  # the bound is reached: let everyone go
            release.wait(timeout=10)
            with lock:
                state["now"] -= 1
        return server(request)

    embedder = connect(handler, batch_size=2, concurrency=3)
    vectors = embedder.embed([f"text {i}" for i in range(40)])  # 20 batches
    assert vectors.shape == (40, 64)
    assert state["most"] == 3


def test_a_failed_batch_stops_the_queued_ones() -> None:
    server = FakeServer()
    embedder = connect(server, batch_size=1, concurrency=1, retries=0)
    server.failures = [500]
    with pytest.raises(EmbeddingServerError):
        embedder.embed([f"text {i}" for i in range(10)])
    assert len(server.requests) == 1 + 1  # the probe and the failed batch: nothing queued was sent


def test_a_server_with_several_models_needs_one_named() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"id": "a"}, {"id": "b"}]})

    with pytest.raises(UsageError, match="RAG_EMBED_SERVER_MODEL"):
        connect(handler)


def test_model_label_keeps_the_last_path_segment() -> None:
    assert model_label("BAAI/bge-small-en-v1.5") == "bge-small-en-v1.5"
    assert model_label("/models/e5/") == "e5"


def test_a_collection_pins_the_served_model(tmp_path: Path) -> None:
    local = WordEmbedder(dimension=64)
    local.name = "all-MiniLM-L6-v2"
    ChunkStore(make_client(tmp_path), "docs", local.name, local.dimension)
    served = connect(FakeServer())  # a Hub id of the same model: opens
    ChunkStore(make_client(tmp_path), "docs", served.name, served.dimension)
    other = connect(FakeServer(model="BAAI/bge-small-en-v1.5"))
    with pytest.raises(IndexMismatchError) as raised:
        ChunkStore(make_client(tmp_path), "docs", other.name, other.dimension)
    assert "'all-MiniLM-L6-v2'" in str(raised.value) and "'bge-small-en-v1.5'" in str(raised.value)
    assert isinstance(raised.value, RagError)


def test_ingest_stops_at_a_dead_server_with_a_truthful_report_and_the_next_run_finishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.ingest

    monkeypatch.setattr(index.ingest, "_EMBED_BATCH_CHUNKS", 1)  # one file per embedding call
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"f{i}.md").write_text(f"# Part {i}\n\nCoral reefs number {i} grow slowly in warm water.\n")
    server = FakeServer()
    embedder = connect(server, retries=1)
    store = ChunkStore(make_client(tmp_path / "index"), "docs", embedder.name, embedder.dimension)
    calls = {"n": 0}
    real = embedder.embed

    def dies_after_two(texts: object) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:
            server.failures = [503] * 5
        return real(texts)  # type: ignore[arg-type]

    monkeypatch.setattr(embedder, "embed", dies_after_two)
    with pytest.raises(IngestInterrupted) as raised:
        ingest(store, embedder, [docs])
    report = raised.value.report
    assert (report.files_added, report.chunks_total) == (2, store.count()) and store.count() > 0
    assert "embedding server" in str(raised.value) and "after 2 files were indexed" in str(raised.value)
    server.failures = []
    again = ingest(store, embedder, [docs])
    assert (again.files_added, again.files_unchanged) == (2, 2)
    assert len(store.sources()) == 4


def test_a_bad_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="RAG_EMBED_URL"):
        RemoteEmbedder("127.0.0.1:7997", "m", WordEmbedder())


def test_settings_and_the_cli_flag_name_the_server(tmp_path: Path) -> None:
    from rag.cli import build_parser, settings_from
    from rag.settings import Settings, SettingsError

    loaded = Settings.load(env={"RAG_EMBED_URL": "http://h:1/v1", "RAG_EMBED_API_KEY": "k",
                                "RAG_EMBED_CONCURRENCY": "8"}, config_file=tmp_path / "none.toml")
    assert (loaded.embed_url, loaded.embed_api_key, loaded.embed_concurrency) == ("http://h:1/v1", "k", 8)
    with pytest.raises(SettingsError, match="embed_concurrency"):
        Settings.load(env={"RAG_EMBED_CONCURRENCY": "0"}, config_file=tmp_path / "none.toml")
    args = build_parser().parse_args(["ingest", "docs", "--embed-url", "http://h:2/v1"])
    assert settings_from(args).embed_url == "http://h:2/v1"



def test_the_local_models_window_and_prefixes_travel_to_the_server() -> None:
    from index.embedding import chunking_for, embed_query

    class E5Counter(WordEmbedder):
        window = 128

        class info:
            passage_prefix, query_prefix = "passage: ", "query: "

    server = FakeServer()
    e = RemoteEmbedder.connect(URL, E5Counter(), transport=httpx.MockTransport(server))  # type: ignore[arg-type]
    e.embed(["Coral reefs grow slowly."])
    embed_query(e, ["how fast do reefs grow?"])
    assert [r["input"] for r in server.requests[-2:]] == [["passage: Coral reefs grow slowly."],
                                                         ["query: how fast do reefs grow?"]]
    assert chunking_for(e).window == 128
    assert chunking_for(RemoteEmbedder.connect(URL, WordEmbedder(), transport=httpx.MockTransport(server))) \
        == chunking_for(WordEmbedder())  # no window of its own: MiniLM's default, as locally
