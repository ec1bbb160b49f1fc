"""Integration fixtures: one loaded MiniLM for the whole session, the examples indexed once, and
helpers that build or copy an index in a temporary folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from index.embedding import MiniLMEmbedder, cpu_has_fast_bfloat16
from rag.assistant import Assistant
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RAG = str(Path(sys.executable).with_name("rag"))
EXAMPLE_FILES = ("README.md", "coral-reefs.txt", "home-solar-guide.pdf", "remote-work-policy.docx",
                 "sourdough-baking.html", "ukraine-security-talks.md")


def example_paragraphs(examples_dir: Path) -> list[str]:
    """The prose paragraphs (over 80 characters) of the text and Markdown example files."""
    paragraphs = []
    for name in EXAMPLE_FILES:
        path = examples_dir / name
        if path.suffix in {".txt", ".md"}:
            paragraphs += [p.strip() for p in path.read_text().split("\n\n") if len(p.strip()) > 80]
    return paragraphs


def clean_settings(folder: Path, **overrides: object) -> Settings:
    """Settings from defaults only: the developer's RAG_* variables and rag.toml must not leak in."""
    return Settings.load(env={}, config_file=folder / "no-such-config.toml", **overrides)


def copy_examples(target: Path) -> Path:
    """The example documents (not their generator scripts) in ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE_FILES:
        shutil.copy2(EXAMPLES / name, target / name)
    return target


def run_rag(args: Sequence[str], cwd: Path, timeout: float = 300,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The ``rag`` command in a new process, with a clean RAG_* environment (plus ``extra_env``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", **(extra_env or {}))
    return subprocess.run([RAG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    """The real all-MiniLM-L6-v2 on torch, loaded once and shared by every integration test: in
    bfloat16 where ``auto`` picks it, else float32 (``auto``'s int8 there has its own tests,
    ``test_int8_embedding.py``, and these reach into the torch model)."""
    model = MiniLMEmbedder(precision="bfloat16" if cpu_has_fast_bfloat16() else "float32")
    model.load()
    return model


@pytest.fixture(scope="session")
def examples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_examples(tmp_path_factory.mktemp("examples"))


@pytest.fixture(scope="session")
def examples_index(tmp_path_factory: pytest.TempPathFactory, examples_dir: Path, embedder: MiniLMEmbedder) -> Path:
    """An index of the examples, built once; tests that write must use ``index_copy``."""
    index_dir = tmp_path_factory.mktemp("examples-index") / "index"
    helper = Assistant(index_dir, embedder=embedder, settings=clean_settings(index_dir.parent))
    report = helper.add(examples_dir)
    assert report.ok and report.files_added == len(EXAMPLE_FILES), report
    return index_dir


@pytest.fixture(scope="session")
def examples_assistant(examples_index: Path, embedder: MiniLMEmbedder) -> Assistant:
    """A read-only Assistant over the session's examples index."""
    return Assistant(examples_index, embedder=embedder, settings=clean_settings(examples_index.parent))


@pytest.fixture
def index_copy(tmp_path: Path, examples_index: Path) -> Path:
    """A private copy of the examples index (Chroma files and all) for a test that writes."""
    target = tmp_path / "index"
    shutil.copytree(examples_index, target)
    return target


@pytest.fixture
def open_assistant(embedder: MiniLMEmbedder) -> Callable[..., Assistant]:
    """``open_assistant(index_dir, **settings)``: an Assistant on the shared model."""

    def make(index_dir: Path, **overrides: object) -> Assistant:
        return Assistant(index_dir, embedder=embedder, settings=clean_settings(index_dir.parent, **overrides))

    return make


@pytest.fixture
def rag_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``rag_cli(args, cwd)``: run the ``rag`` command in a new process (see ``run_rag``)."""
    return run_rag


@pytest.fixture
def examples_copy(tmp_path: Path) -> Path:
    """A private copy of the example documents, for a test that edits or deletes them."""
    return copy_examples(tmp_path / "docs")


@pytest.fixture
def settings_for() -> Callable[..., Settings]:
    """``settings_for(folder, **overrides)``: defaults-only settings (see ``clean_settings``)."""
    return clean_settings


def expected_chunk_ids(folder: Path, embedder: MiniLMEmbedder) -> dict[str, set[str]]:
    """The chunk ids each file of ``folder`` should have in the index, computed from the files."""
    from index.chunking import chunk_document
    from index.loaders import load_file

    out = {}
    for path in sorted(folder.iterdir()):
        doc = load_file(path)
        out[doc.source] = {c.chunk_id for c in chunk_document(doc, embedder.count_tokens)}
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_chroma_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``chroma run`` on 127.0.0.1 and a free port, storing in ``folder``; returns the process and its URL."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if chroma is None:
        pytest.fail("the chroma CLI is missing (it comes with the chromadb package)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (folder / "chroma.log").open("w")
    proc = subprocess.Popen([chroma, "run", "--host", "127.0.0.1", "--port", str(port), "--path",
                             str(folder / "data")], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("chroma run did not start: " + (folder / "chroma.log").read_text()[-500:])


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A Chroma server of this test's own."""
    proc, url = start_chroma_server(tmp_path / "chroma-server")
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def shared_chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Chroma server for the tests that only need a server (each uses its own collection)."""
    proc, url = start_chroma_server(tmp_path_factory.mktemp("chroma-server"))
    yield url
    stop(proc)
