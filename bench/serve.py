"""HTTP ask latency: ``rag serve`` (one worker) on the bench index, asked by 1 and by 8 clients at once.

Runs inside a ``bench.tasks`` subprocess; the server is a further process on 127.0.0.1 (random
port), started and stopped here. Each client keeps one connection open (as a chat front end
does) and asks the bench questions in turn; latency is the wall time of one ``POST /v1/ask``,
as the client sees it (JSON encoding, HTTP and the answer's queueing included).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.stats import rnd
from evals.metrics import percentile

CLIENTS = (1, 8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(index_dir: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--index", index_dir, "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def _wait_healthy(httpx: Any, proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 180) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"rag serve exited with {proc.returncode}: {log.read_text()[-1500:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"rag serve was not healthy after {timeout:.0f} s: {log.read_text()[-1500:]}")


def _load(httpx: Any, url: str, questions: list[str], clients: int, per_client: int) -> dict[str, Any]:
    """``clients`` threads, each asking ``per_client`` questions on its own kept-alive connection."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            barrier.wait()
            for i in range(per_client):
                question = questions[(offset + i) % len(questions)]
                t = time.perf_counter()
                reply = http.post("/v1/ask", json={"question": question})
                elapsed = (time.perf_counter() - t) * 1000
                with lock:
                    (latencies.append(elapsed) if reply.status_code == 200 else failures.append(reply.text[:200]))

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c * per_client,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "asks": len(latencies), "failed": len(failures), "failures": failures[:3],
            "p50_ms": rnd(percentile(latencies, 50), 1), "p95_ms": rnd(percentile(latencies, 95), 1),
            "asks_per_s": rnd(len(latencies) / wall, 2) if wall else None}


def http_latency(index_dir: str, questions: list[dict[str, str]]) -> dict[str, Any]:
    """p50/p95 of ``POST /v1/ask`` with 1 and with 8 concurrent clients, each question asked once per run.

    Every run gets a fresh server: the answer stage caches question-time embeddings, so a question
    asked a second time would measure the cache.
    """
    import httpx

    texts = [q["question"] for q in questions]
    log = Path(index_dir).parent / "rag-serve-bench.log"
    out: dict[str, Any] = {"workers": 1, "runs": {}}
    for clients in CLIENTS:
        proc, url = _start(index_dir, log)
        try:
            out["startup_s"] = round(_wait_healthy(httpx, proc, url, log), 2)
            httpx.post(f"{url}/v1/ask", json={"question": "warm up the model"}, timeout=120)  # not measured
            out["runs"][str(clients)] = _load(httpx, url, texts, clients, max(1, len(texts) // clients))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
    return out
