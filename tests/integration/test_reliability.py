"""Crash safety, one writer, readers during writes, and Chroma's server mode — all for real:
real processes killed with SIGKILL, a real ``chroma run`` server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.embedding import MiniLMEmbedder
from index.loaders import content_hash
from index.lock import IndexBusyError, WriterLock
from index.store import ChunkStore, make_client
from tests.integration.conftest import expected_chunk_ids, free_port

ROOT = Path(__file__).resolve().parents[2]
RAG = str(Path(sys.executable).with_name("rag"))
WORDS = (
    "river", "harbour", "lantern", "copper", "meadow", "signal", "orchard", "thunder", "violet", "granite",
    "compass", "ember", "falcon", "glacier", "hollow", "island", "juniper", "kestrel", "lagoon", "marble",
    "nectar", "obsidian", "pepper", "quartz",
)


def _write_corpus(folder: Path, n_files: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        paragraphs = []
        for _ in range(rng.randint(3, 12)):
            sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))).capitalize() + "."
                         for _ in range(rng.randint(2, 6))]
            paragraphs.append(" ".join(sentences))
        suffix = ".md" if i % 3 == 0 else ".txt"
        head = f"# Note {i}\n\n" if suffix == ".md" else ""
        (folder / f"note-{i:03d}{suffix}").write_text(head + "\n\n".join(paragraphs) + f"\n\nSerial {seed}-{i}.\n")


def _store_ids(index: Path, embedder: MiniLMEmbedder) -> dict[str, set[str]]:
    # A fresh process reads the index, as a user's next command would.
    code = ("import json,sys; from index.store import ChunkStore, make_client; "
            "s=ChunkStore(make_client(sys.argv[1]), 'docs', 'all-MiniLM-L6-v2', 384); out={}\n"
            "for cid, _, m in s.iter_records(include_documents=False): out.setdefault(m['source'], []).append(cid)\n"
            "print(json.dumps(out))")
    result = subprocess.run([sys.executable, "-c", code, str(index)], capture_output=True, text=True, check=True)
    return {k: set(v) for k, v in json.loads(result.stdout).items()}


def _file_states(index: Path, sources: list[str]) -> dict[str, tuple[bool, str | None]]:
    """(complete, content hash) of each source, read by a fresh process."""
    code = ("import json,sys; from index.store import ChunkStore, make_client; "
            "s=ChunkStore(make_client(sys.argv[1]), 'docs', 'all-MiniLM-L6-v2', 384); "
            "print(json.dumps({p: [s.file_state(p).complete, s.file_state(p).content_hash] for p in sys.argv[2:]}))")
    out = subprocess.run([sys.executable, "-c", code, str(index), *sources], capture_output=True, text=True,
                         check=True).stdout
    return {k: (bool(v[0]), v[1]) for k, v in json.loads(out).items()}


def _sentence_gaps(index: Path) -> tuple[int, int]:
    """(sentence vectors missing for stored chunks, stored sentences whose chunk is gone), read by a fresh
    process. The first must be 0 after any crash; the second only after a finished run."""
    code = ("import json,sys; from index.store import ChunkStore, make_client, chunk_from_record; "
            "from index.sentence_store import sentences_collection; from rag.sentence_vectors import sentence_units; "
            "c=make_client(sys.argv[1]); s=ChunkStore(c, 'docs', 'all-MiniLM-L6-v2', 384)\n"
            "want={f'{i}:{n}' for i, t, m in s.iter_records()\n"
            "      for n, _ in enumerate(sentence_units(chunk_from_record(i, t, m)))}\n"
            "try: have=set(c.get_collection(sentences_collection('docs')).get(include=[])['ids'])\n"
            "except Exception: have=set()\n"
            "print(json.dumps([len(want - have), len(have - want)]))")
    out = subprocess.run([sys.executable, "-c", code, str(index)], capture_output=True, text=True, check=True).stdout
    missing, orphans = json.loads(out)
    return int(missing), int(orphans)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.mark.slow
def test_sigkill_during_ingest_never_loses_or_duplicates(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    _write_corpus(corpus, 40, seed=1)
    rng = random.Random(7)
    trials, killed_mid_run = 20, 0
    for trial in range(trials):
        if trial % 2 == 1:  # change some files so runs have updates and stale chunks to delete
            for path in rng.sample(sorted(corpus.iterdir()), 12):  # more than the done lines waited for
                text = path.read_text()
                revision = f"\n\nRevision {trial}: " + " ".join(rng.sample(WORDS, 10)) + ".\n"
                path.write_text(text[: len(text) // 2] + revision)
        proc = subprocess.Popen([RAG, "ingest", str(corpus), "--index", str(index), "--verbose"],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        assert proc.stderr is not None
        done: list[str] = []
        wait_for = rng.randint(0, 8)
        deadline = time.monotonic() + 120
        while len(done) < wait_for and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if line.startswith("done: "):
                done.append(line[6:].strip())
        time.sleep(rng.uniform(0, 0.3))
        if proc.poll() is None:
            killed_mid_run += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Every file the killed run reported done is fully in the index, with its current content.
        for source, (complete, digest) in _file_states(index, done).items():
            assert complete, f"trial {trial}: {source} was reported done but is incomplete"
            assert digest == content_hash(Path(source).read_bytes(), Path(source).suffix)
        # Sentence vectors are written before their chunk and deleted after it: no chunk lacks them.
        assert _sentence_gaps(index)[0] == 0, f"trial {trial}: a stored chunk lacks its sentence vectors"
    finished = subprocess.run([RAG, "ingest", str(corpus), "--index", str(index), "--json"],
                              capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert killed_mid_run >= trials // 2, "kills mostly missed the run; the test proves nothing"
    assert _store_ids(index, embedder) == expected_chunk_ids(corpus, embedder)  # nothing lost, stale or duplicated
    assert _sentence_gaps(index) == (0, 0)  # and every chunk has exactly its sentences
    again = json.loads(subprocess.run([RAG, "ingest", str(corpus), "--index", str(index), "--json"],
                                      capture_output=True, text=True, check=True).stdout)
    assert again["chunks_added"] == 0 and again["files_unchanged"] == 40


def test_second_writer_is_refused_within_a_second(tmp_path: Path) -> None:
    index = tmp_path / "index"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from index.lock import WriterLock; "
         "l=WriterLock(sys.argv[1]); l.acquire(); print('locked', flush=True); time.sleep(60)", str(index)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(IndexBusyError) as err:
            WriterLock(index, timeout=1.0).acquire()
        assert time.monotonic() - started < 1.5
        assert str(index) in str(err.value) and f"process {holder.pid}" in str(err.value)
        (tmp_path / "a.txt").write_text("A short note about lanterns and harbours.")
        cli = subprocess.run([RAG, "ingest", str(tmp_path / "a.txt"), "--index", str(index)],
                             capture_output=True, text=True, timeout=120)
        assert cli.returncode != 0
        assert "being written by process" in cli.stderr and "Traceback" not in cli.stderr
    finally:
        holder.kill()
        holder.wait()
    WriterLock(index, timeout=1.0).acquire()  # the kernel released the dead holder's lock


def test_readers_keep_answering_during_an_ingest(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    from rag import Assistant

    index = tmp_path / "index"
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "examples", docs)
    assistant = Assistant(index, embedder=embedder)
    assistant.add(docs)
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 30, seed=3)
    writer = subprocess.Popen([RAG, "ingest", str(corpus), "--index", str(index)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    answers = []
    while writer.poll() is None and len(answers) < 50:
        answers.append(assistant.ask("what did Zelenskyy reject?"))
    writer.wait(timeout=300)
    assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
    assert answers, "the ingest finished before a single question was asked"
    assert all(not a.refused and "ukraine-security-talks.md" in a.citations[0].source for a in answers)
    assert len(assistant.sources()) == 36


def test_server_mode_ingest_reingest_ask(tmp_path: Path, chroma_server: str, embedder: MiniLMEmbedder) -> None:
    from rag import Assistant

    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "examples", docs)
    assistant = Assistant(collection="server-test", chroma_url=chroma_server, embedder=embedder)
    first = assistant.add(docs)
    assert first.ok and first.chunks_added > 0
    assert assistant.add(docs).chunks_added == 0
    answer = assistant.ask("what did Zelenskyy reject?")
    assert not answer.refused and answer.citations[0].source.endswith("ukraine-security-talks.md")
    # The CLI takes the same path with RAG_CHROMA_URL, and a new process sees the same index.
    env = {**os.environ, "RAG_CHROMA_URL": chroma_server, "RAG_COLLECTION": "server-test"}
    out = subprocess.run([RAG, "ingest", str(docs), "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["chunks_added"] == 0 and report["files_unchanged"] == first.files_added
    asked = subprocess.run([RAG, "ask", "--json", "what is the boiling point of mercury?"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert json.loads(asked.stdout)["refused"] is True


def test_server_down_is_one_clear_sentence(tmp_path: Path) -> None:
    port = free_port()
    out = subprocess.run([RAG, "ask", "anything", "--chroma-url", f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and f"127.0.0.1:{port}" in out.stderr


def test_store_rejects_foreign_model(tmp_path: Path) -> None:
    client = make_client(tmp_path / "index")
    ChunkStore(client, "docs", "all-MiniLM-L6-v2", 384)
    from index.store import IndexMismatchError

    with pytest.raises(IndexMismatchError, match="rebuild"):
        ChunkStore(client, "docs", "bge-small", 384)


def test_index_from_another_chroma_major_is_refused(tmp_path: Path) -> None:
    from index.store import IndexMismatchError

    client = make_client(tmp_path / "index")
    client.get_or_create_collection(
        "docs", embedding_function=None,
        metadata={"embedding_model": "all-MiniLM-L6-v2", "dimension": 384, "rag_schema": 1, "chroma_major": 0})
    with pytest.raises(IndexMismatchError, match=r"written by Chroma 0\.x.*rebuild"):
        ChunkStore(client, "docs", "all-MiniLM-L6-v2", 384)


def test_damaged_index_folder_is_one_clear_sentence(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (index / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    out = subprocess.run([RAG, "ask", "anything", "--index", str(index)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "cannot open the index" in out.stderr
