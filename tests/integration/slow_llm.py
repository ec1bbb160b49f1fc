"""A slow OpenAI-compatible chat server on 127.0.0.1 for the tests: one model, ``fake-model``, that
streams a fixed answer a word at a time, and records how each answer ended (sent whole, or cut off
because the client closed the connection). With ``read_s`` set on the server it first stays silent
that long, as a model on a CPU does while it reads a long prompt, watching for the client to leave."""

from __future__ import annotations

import http.server
import io
import json
import select
import socket
import threading
import time
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
        words = self.ANSWER.split(" ")
        if not self.read_prompt():
            self.server.ended.append(Ended(0, len(words), client_left=True))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
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

    def read_prompt(self) -> bool:
        """Silent for the server's ``read_s`` seconds (headers unsent, as llama.cpp's server while it
        reads a prompt); False as soon as the client closes the connection meanwhile."""
        deadline = time.monotonic() + self.server.read_s
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                return False
        return True

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


class SilentJudge(SlowLLM):
    """Writes its answer at once; a request of the LLM judge ("Does the passage support the
    sentence?") gets no reply for the server's ``read_s`` seconds, as a CPU model reading the
    passage, and the server counts those the client closed meanwhile (``judges_left``)."""

    ANSWER = "The Great Barrier Reef is the largest coral reef system. [1]"
    PAUSE_S = 0.05

    def read_prompt(self) -> bool:
        return super().read_prompt() if self.judging else True

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.rfile = io.BytesIO(raw)  # SlowLLM reads the body again
        self.judging = b"Does the passage support the sentence?" in raw
        if not self.judging:
            super().do_POST()  # the answer itself, at once
            return
        with self.server.lock:
            self.server.judged += 1
        left = not self.read_prompt()
        with self.server.lock:
            self.server.judges_left += left
        if not left:  # never stopped: whoever waited gets an error, not a verdict
            self.send_error(503)


class LLMServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[SlowLLM]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.started = 0  # answers begun
        self.read_s = 0.0  # silence before the first word (a prompt being read); tests set it
        self.ended: list[Ended] = []  # appended by the handler threads, in the order answers end
        self.lock = threading.Lock()
        self.judged = 0  # requests of the LLM judge (``SilentJudge``) begun
        self.judges_left = 0  # and those the client closed while the judge was silent

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
