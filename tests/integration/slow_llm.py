"""A slow OpenAI-compatible chat server on 127.0.0.1 for the tests: one model, ``fake-model``, that
streams a fixed answer a word at a time, and records how each answer ended (sent whole, or cut off
because the client closed the connection)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ended:
    """One streamed answer: how many words were sent, and whether the client left before the end."""

    words_sent: int
    words: int
    client_left: bool


class SlowLLM(http.server.BaseHTTPRequestHandler):
    """Streams ``ANSWER`` a word at a time, ``pause(i)`` after word ``i`` (override it to hold an answer)."""

    ANSWER = "Tides are caused by the gravity of the Moon and the Sun. [1]"
    PAUSE_S = 0.25  # slow enough for a page to show each piece
    server: LLMServer

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json({"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "test"}]})
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        self.body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.started += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = self.ANSWER.split(" ")
        sent = 0
        try:
            for i, word in enumerate(words):
                delta = {"role": "assistant", "content": word + ("" if i == len(words) - 1 else " ")}
                self._event({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                sent += 1
                self.pause(i)
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # a write after the client closed the connection
            self.server.ended.append(Ended(sent, len(words), client_left=True))
        else:
            self.server.ended.append(Ended(sent, len(words), client_left=False))

    def pause(self, i: int) -> None:
        threading.Event().wait(self.PAUSE_S)

    def _event(self, body: dict[str, Any]) -> None:
        body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake-model", **body}
        self.wfile.write(f"data: {json.dumps(body)}\n\n".encode())
        self.wfile.flush()

    def _json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class LLMServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[SlowLLM]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.started = 0  # answers begun
        self.ended: list[Ended] = []  # appended by the handler threads, in the order answers end

    @property
    def url(self) -> str:
        """The base URL a client is given (ends in /v1)."""
        return f"http://127.0.0.1:{self.server_port}/v1"


def start(handler: type[SlowLLM] = SlowLLM) -> LLMServer:
    """An ``LLMServer`` with ``handler``, serving in a thread until its ``shutdown()``."""
    server = LLMServer(handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def serving(handler: type[SlowLLM] = SlowLLM) -> Iterator[LLMServer]:
    """A running ``LLMServer`` with ``handler``, shut down on exit."""
    server = start(handler)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
