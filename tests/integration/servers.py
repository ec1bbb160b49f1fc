"""``rag serve`` for the integration tests, on 127.0.0.1 and a random port (``chroma run``: conftest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.conftest import free_port

RAG = str(Path(sys.executable).with_name("rag"))


@dataclass
class Server:
    """A server process we started; ``stop()`` ends it (and its workers) by its process group."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _start(args: Sequence[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)


def serve_env(**extra: str) -> dict[str, str]:
    """The test process's environment without the developer's RAG_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               GRADIO_ANALYTICS_ENABLED="False", **extra)
    return env


def wait_ready(server: Server, name: str, ready: Callable[[], bool], timeout: float, pause: float) -> None:
    """Poll ``ready`` until it is true; the server's log in the error when it exits or the time is up
    (then it is stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(pause)
    server.stop()
    raise RuntimeError(f"{name} did not become ready in {timeout:.0f} s:\n{server.log_tail()}")


def start_rag_serve(args: Sequence[str], folder: Path, env: dict[str, str], ready_workers: int = 1,
                    timeout: float = 180) -> Server:
    """``rag serve ARGS --port <free>`` in ``folder``; returns once /healthz answers (from every worker)."""
    port = free_port()
    log = folder / f"rag-serve-{port}.log"
    process = _start([RAG, "serve", *args, "--host", "127.0.0.1", "--port", str(port)], log, env, folder)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    seen: set[str] = set()

    def every_worker_healthy() -> bool:
        # A new connection each time, so that every worker gets a chance to answer.
        reply = httpx.get(f"{server.url}/healthz", timeout=5, headers={"Connection": "close"})
        if reply.status_code == 200:
            seen.add(reply.headers["x-rag-worker"])
        return len(seen) >= ready_workers

    wait_ready(server, "rag serve", every_worker_healthy, timeout, 0.2)
    return server


# ---- an OpenAI-compatible embedding server (infinity-emb, in .venv-infinity: .ci/setup --with-embed-server)

INFINITY = Path(__file__).resolve().parents[2] / ".venv-infinity"
INFINITY_READY = INFINITY / ".rag-installed"


@dataclass
class EmbedServer:
    """infinity-emb serving the packaged MiniLM folder on 127.0.0.1:``port`` as ``all-MiniLM-L6-v2``;
    ``start()`` again after ``kill()`` restarts it on the same port."""

    model_path: Path
    folder: Path
    port: int
    server: Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int:
        assert self.server is not None
        return self.server.process.pid

    def start(self, timeout: float = 300) -> EmbedServer:
        log = self.folder / f"infinity-{self.port}-{time.monotonic_ns()}.log"
        # Offline (the model is a local folder), no usage statistics, no torch.compile warm-up.
        env = serve_env(DO_NOT_TRACK="1", INFINITY_ANONYMOUS_USAGE_STATS="0")
        process = _start([str(INFINITY / "bin" / "infinity_emb"), "v2", "--model-id", str(self.model_path),
                          "--served-model-name", "all-MiniLM-L6-v2", "--engine", "torch", "--device", "cpu",
                          "--no-compile", "--no-bettertransformer", "--host", "127.0.0.1",
                          "--port", str(self.port), "--url-prefix", "/v1", "--log-level", "warning"],
                         log, env, self.folder)
        self.server = Server(process, self.url, log)
        wait_ready(self.server, "infinity_emb", lambda: httpx.get(f"{self.url}/models", timeout=5).status_code == 200,
                   timeout, 0.5)
        return self

    def kill(self) -> None:
        """SIGKILL the server by its process id, as a crash would end it."""
        assert self.server is not None
        os.kill(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(timeout=30)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def start_embed_server(model_path: Path, folder: Path) -> EmbedServer:
    """A running ``EmbedServer`` (the caller stops it); skips the test when infinity-emb is not installed."""
    import pytest

    if not INFINITY_READY.is_file():
        pytest.skip("infinity-emb is not installed in .venv-infinity: run 'bash .ci/setup --with-embed-server'")
    return EmbedServer(model_path, folder, free_port()).start()
