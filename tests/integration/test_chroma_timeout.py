"""A Chroma server that takes the connection and never answers is one sentence after the configured
timeout, not a hang: when the client is made, and later, under an open store."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.server_guard import StoreTimeoutError, StoreUnavailableError
from index.store import ChunkStore, make_client
from tests.integration.conftest import run_rag

SHORT = 0.5  # seconds: the timeout every test here sets


class SilentServer:
    """Listens on 127.0.0.1, accepts every connection, reads what it is sent and never answers.
    With ``upstream`` it forwards both ways until ``go_silent()``, after which it swallows requests."""

    def __init__(self, upstream: tuple[str, int] | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.upstream = upstream
        self.silent = threading.Event()
        if upstream is None:
            self.silent.set()
        self.accepted = 0
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def go_silent(self) -> None:
        self.silent.set()

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._sockets.append(conn)
            back = None
            if self.upstream is not None and not self.silent.is_set():
                back = socket.create_connection(self.upstream)
                self._sockets.append(back)
                threading.Thread(target=self._pipe, args=(back, conn), daemon=True).start()
            threading.Thread(target=self._pipe, args=(conn, back), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket | None) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if target is not None and not self.silent.is_set():
                target.sendall(data)


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_a_server_that_never_answers_is_a_timeout_naming_the_url(silent: SilentServer) -> None:
    with pytest.raises(StoreTimeoutError) as caught:
        make_client(chroma_url=silent.url, timeout=SHORT)
    message = str(caught.value)
    assert silent.accepted >= 1  # it did connect: the hang was in the answer
    assert silent.url in message and "did not answer within 0.5 s" in message and "RAG_CHROMA_TIMEOUT" in message
    assert isinstance(caught.value, StoreUnavailableError) and caught.value.exit_code == 3


def test_a_server_that_hangs_under_an_open_store_is_a_timeout(chroma_server: str) -> None:
    host, port = chroma_server.removeprefix("http://").split(":")
    proxy = SilentServer(upstream=(host, int(port)))
    try:
        store = ChunkStore(make_client(chroma_url=proxy.url, timeout=SHORT), "hangs", "fake-model", 4)
        assert store.count() == 0  # the proxy forwards: a working store
        proxy.go_silent()
        with pytest.raises(StoreTimeoutError, match=r"did not answer within 0\.5 s"):
            store.count()
    finally:
        proxy.close()


def test_the_cli_says_one_sentence_and_exits_3_on_a_hung_server(silent: SilentServer, tmp_path: Path) -> None:
    out = run_rag(["ask", "anything", "--chroma-url", silent.url], cwd=tmp_path, timeout=120,
                  extra_env={"RAG_CHROMA_TIMEOUT": str(SHORT)})
    assert out.returncode == 3, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and silent.url in lines[0] and "Traceback" not in out.stderr
