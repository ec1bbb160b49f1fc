"""Issue 18, the store under real conditions: a long-lived reader while another process writes, a
Chroma server killed mid-ingest and mid-question, bad index paths and names, hostile file names,
identical files. Real processes, the real CLI, real Chroma; every case is bounded by a timeout."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from index.embedding import MiniLMEmbedder
from rag.assistant import Assistant
from tests.integration.conftest import EXAMPLES, clean_settings, start_chroma_server, stop

ROOT = Path(__file__).resolve().parents[2]


def rag(args: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """This tree's ``rag`` CLI in a new process (``-m rag.cli``, so it is this checkout's code)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    clean.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", **(env or {}))
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=cwd, env=clean, capture_output=True,
                          text=True, timeout=timeout)


def one_sentence_error(out: subprocess.CompletedProcess[str], command: str) -> str:
    """The stderr of a failed command: one ``rag COMMAND: …`` line, no traceback."""
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith(f"rag {command}: ")]
    assert len(lines) == 1, out.stderr
    return lines[0]


# ---- 1. a long-lived reader sees another process's writes --------------------------------------

QUESTIONS = ("Who keeps the Varne lighthouse?", "what did Zelenskyy reject?")
FRESH = """
import json, sys
from rag.assistant import Assistant
from rag.settings import Settings
from pathlib import Path
index = Path(sys.argv[1])
a = Assistant(index, settings=Settings.load(env={}, config_file=index.parent / "none.toml"))
print(json.dumps([a.ask(q).to_dict() for q in sys.argv[2:]]))
"""


def _essentials(answer: dict[str, Any]) -> dict[str, Any]:
    # JSON lists, so answers read back from another process compare equal
    return {"text": answer["text"], "refused": answer["refused"],
            "citations": [[c["source"], c["quote"]] for c in answer["citations"]],
            "hits": [[h["chunk"]["source"], h["chunk"]["chunk_id"]] for h in answer["hits"]]}


def _fresh_answers(index: Path) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", FRESH, str(index), *QUESTIONS], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return [_essentials(a) for a in json.loads(out.stdout)]


def _ingest_elsewhere(docs: Path, index: Path, *extra: str) -> None:
    out = rag(["ingest", str(docs), "--index", str(index), "--json", *extra], cwd=docs.parent)
    assert out.returncode == 0, out.stderr


def test_an_open_assistant_sees_another_process_add_update_and_remove(tmp_path: Path,
                                                                      embedder: MiniLMEmbedder) -> None:
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    for name in ("coral-reefs.txt", "ukraine-security-talks.md"):
        shutil.copy2(EXAMPLES / name, docs / name)
    reader = Assistant(index, embedder=embedder, settings=clean_settings(tmp_path))
    reader.add(docs)

    def ask_all() -> list[dict[str, Any]]:
        return [_essentials(json.loads(json.dumps(reader.ask(q).to_dict()))) for q in QUESTIONS]

    before = ask_all()
    assert before[0]["refused"] and not before[1]["refused"]

    lighthouse = docs / "lighthouse.txt"
    lighthouse.write_text("The Varne lighthouse is kept by Oswin Tregarthen, who has lived there since 1994.\n")
    _ingest_elsewhere(docs, index)
    added = ask_all()
    assert not added[0]["refused"] and "Oswin Tregarthen" in added[0]["text"]
    assert added == _fresh_answers(index)

    lighthouse.write_text("The Varne lighthouse is kept by Morwenna Pascoe, who took over from her uncle.\n")
    _ingest_elsewhere(docs, index)
    updated = ask_all()  # before the fix: TypeError from a deleted chunk's empty record
    assert "Morwenna Pascoe" in updated[0]["text"] and "Oswin" not in updated[0]["text"]
    assert updated == _fresh_answers(index)

    lighthouse.unlink()
    _ingest_elsewhere(docs, index, "--prune")
    removed = ask_all()
    assert removed[0]["refused"] and not any(s.endswith("lighthouse.txt") for s, _ in removed[0]["hits"])
    assert not any(source.endswith("lighthouse.txt") for source, _ in removed[0]["citations"])
    assert removed == _fresh_answers(index)
    assert removed[1] == before[1]


# ---- 3. a Chroma server killed mid-ingest and mid-question -------------------------------------

# The real CLI with embedding batches of 8 chunks, so files are written (and reported) while later
# ones are still being read: the server can be killed between two writes.
SMALL_BATCHES = "import sys, index.ingest as i; i._EMBED_BATCH_CHUNKS = 8; from rag.cli import main; sys.exit(main())"


def _notes(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"note-{i:02d}.txt"
        path.write_text(f"Note {i}. The harbour signal number {i} is painted copper and violet.\n\n"
                        f"Orchard row {i} was planted in spring; its lantern is checked every {i + 2} days.\n")
        paths.append(path)
    return paths


def test_server_killed_mid_ingest_is_one_sentence_with_a_truthful_report(tmp_path: Path,
                                                                         embedder: MiniLMEmbedder) -> None:
    files = _notes(tmp_path / "docs", 40)
    server, url = start_chroma_server(tmp_path / "server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(PYTHONPATH=str(ROOT), RAG_CHROMA_URL=url, RAG_COLLECTION="killed", ANONYMIZED_TELEMETRY="False")
    ingest = subprocess.Popen([sys.executable, "-c", SMALL_BATCHES, "ingest", str(tmp_path / "docs"), "--json",
                               "--verbose"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert ingest.stderr is not None
        lines: list[str] = []
        for line in ingest.stderr:  # ends when the process does, so this cannot hang past it
            lines.append(line)
            if line.startswith("done: "):
                server.kill()  # by pid, between two writes
                server.wait(timeout=30)
                break
        # Go on with the same file object: its read-ahead may already hold the next "done:" lines,
        # which communicate() would never see. pytest-timeout bounds this if the ingest hung.
        rest = "".join(ingest.stderr)
        stdout = ingest.stdout.read() if ingest.stdout else ""
        ingest.wait(timeout=300)
    finally:
        if ingest.poll() is None:
            ingest.kill()
        if server.poll() is None:
            stop(server)
    stderr = "".join(lines) + rest
    assert ingest.returncode == 3, stderr
    message = one_sentence_error(subprocess.CompletedProcess([], 3, stdout, stderr), "ingest")
    assert f"the Chroma server at {url} stopped answering" in message and "re-run 'rag ingest'" in message
    report = json.loads(stdout)
    done = [line.removeprefix("done: ").strip() for line in stderr.splitlines() if line.startswith("done: ")]
    assert 0 < report["files_added"] == len(done) < len(files), (report, done)
    assert report["chunks_total"] is None and report["files_failed"] == []
    assert f"after {len(done)} files were indexed" in message

    # The report is the truth: after a restart the store holds exactly those files, complete.
    server, url = start_chroma_server(tmp_path / "server")
    try:
        reader = Assistant(collection="killed", chroma_url=url, embedder=embedder, settings=clean_settings(tmp_path))
        assert set(reader.sources()) >= set(done)
        assert all(reader.store.file_state(path).complete for path in done)
        again = reader.add(tmp_path / "docs")
        assert again.ok and again.files_unchanged >= len(done) and len(reader.sources()) == len(files)
    finally:
        stop(server)


def test_server_killed_under_an_open_assistant_is_one_sentence(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    from index.store import StoreUnavailableError

    _notes(tmp_path / "docs", 3)
    server, url = start_chroma_server(tmp_path / "server")
    try:
        assistant = Assistant(collection="asked", chroma_url=url, embedder=embedder, settings=clean_settings(tmp_path))
        assistant.add(tmp_path / "docs")
        assert not assistant.ask("what colour is the harbour signal?").refused
        server.kill()
        server.wait(timeout=30)
        with pytest.raises(StoreUnavailableError, match=f"the Chroma server at {url} stopped answering") as info:
            assistant.ask("what colour is the harbour signal?")
        assert info.value.exit_code == 3
        with pytest.raises(StoreUnavailableError, match="stopped answering"):
            assistant.sources()
        # A new command against the dead server: one sentence and the same exit code.
        out = rag(["ask", "what colour is the harbour signal?", "--chroma-url", url, "--collection", "asked"],
                  cwd=tmp_path, timeout=120)
        assert out.returncode == 3 and url.removeprefix("http://") in one_sentence_error(out, "ask")
    finally:
        if server.poll() is None:
            stop(server)


# ---- 10. bad index paths and names, hostile file names, identical files ------------------------

def test_index_naming_a_file_is_one_sentence(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file, not an index folder\n")
    for args, command in ((["ingest", str(tmp_path), "--index", str(not_a_folder)], "ingest"),
                          (["ask", "anything", "--index", str(not_a_folder / "inside")], "ask")):
        out = rag(args, cwd=tmp_path, timeout=120)
        assert out.returncode == 2, out.stderr
        assert "is a file (or inside one): give --index a folder" in one_sentence_error(out, command)
    assert not_a_folder.read_text() == "a file, not an index folder\n"


@pytest.fixture
def small_index(tmp_path: Path, embedder: MiniLMEmbedder) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy2(EXAMPLES / "coral-reefs.txt", docs / "coral-reefs.txt")
    index = tmp_path / "index"
    assert Assistant(index, embedder=embedder, settings=clean_settings(tmp_path)).add(docs).ok
    return index


def test_reading_commands_never_create_an_index(tmp_path: Path, small_index: Path) -> None:
    missing = tmp_path / "no-index-here"
    for args, command in ((["ask", "why do corals bleach?"], "ask"), (["sources"], "sources")):
        out = rag([*args, "--index", str(missing)], cwd=tmp_path, timeout=120)
        assert out.returncode == 1, out.stderr
        assert (f"there is no index in {missing}; build one with 'rag ingest PATH --index {missing}'"
                in one_sentence_error(out, command))
        assert not missing.exists()
        out = rag([*args, "--index", str(small_index), "--collection", "other"], cwd=tmp_path, timeout=120)
        assert out.returncode == 1, out.stderr
        assert ("the index has no collection 'other' (it has: docs); build it with 'rag ingest PATH --collection "
                "other'" in one_sentence_error(out, command))
    from index.store import make_client, rag_collections

    client = make_client(small_index)
    assert rag_collections(client) == ["docs"]  # nothing was created for "other" (docs-sentences is docs')
    assert not {"other", "other-sentences"} & {c.name for c in client.list_collections()}


def test_serve_and_ui_never_serve_a_new_empty_index(tmp_path: Path) -> None:
    missing = tmp_path / "no-index-here"  # a typo in --index
    for args, command in ((["serve", "--port", "0"], "serve"), (["ui", "--no-browser", "--port", "0"], "ui")):
        out = rag([*args, "--index", str(missing)], cwd=tmp_path, timeout=120)
        assert out.returncode == 1, out.stderr
        assert (f"there is no index in {missing}; build one with 'rag ingest PATH --index {missing}'"
                in one_sentence_error(out, command))
        assert not missing.exists()
    docs = tmp_path / "notes"  # 'rag ui PATH' still indexes PATH into a new index first
    docs.mkdir()
    (docs / "tides.txt").write_text("The tide at Varne turns twice a day.")
    with socket.create_server(("127.0.0.1", 0)) as taken:  # its port is in use: the UI stops once indexed
        port = str(taken.getsockname()[1])
        out = rag(["ui", str(docs), "--index", str(missing), "--no-browser", "--port", port], cwd=tmp_path,
                  timeout=300)
    assert "[1/1] tides.txt" in out.stdout and "1 added" in out.stdout, out.stdout + out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in one_sentence_error(out, "ui")
    assert (missing / "chroma.sqlite3").is_file()


def test_an_invalid_collection_name_is_one_sentence(tmp_path: Path, small_index: Path) -> None:
    out = rag(["sources", "--index", str(small_index), "--collection", "my docs"], cwd=tmp_path, timeout=120)
    assert out.returncode == 2
    assert "bad collection name 'my docs'" in one_sentence_error(out, "sources")


def test_a_file_name_with_a_newline_cannot_forge_output(tmp_path: Path) -> None:
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    forged = docs / "notes\n[2] forged.txt"
    forged.write_text("The Varne lighthouse is kept by Oswin Tregarthen, who has lived there since 1994.\n")
    assert rag(["ingest", str(docs), "--index", str(index)], cwd=tmp_path).returncode == 0
    listed = rag(["sources", "--index", str(index)], cwd=tmp_path, timeout=120)
    assert listed.returncode == 0 and listed.stdout.count("\n") == 1
    assert listed.stdout.endswith("notes\\n[2] forged.txt\n")
    asked = rag(["ask", "Who keeps the Varne lighthouse?", "--index", str(index)], cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "notes\\n[2] forged.txt — " in asked.stdout  # the cited path, with its newline escaped
    assert not any(line.startswith("[2]") for line in asked.stdout.splitlines())


def test_identical_files_show_their_passage_once(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("coral-reefs.txt", "ukraine-security-talks.md"):
        shutil.copy2(EXAMPLES / name, docs / name)
    shutil.copy2(EXAMPLES / "coral-reefs.txt", docs / "coral-reefs (copy).txt")
    # Passages as chunks: widened, these short files' chunks would merge into fewer than five passages.
    assistant = Assistant(tmp_path / "index", embedder=embedder, settings=clean_settings(tmp_path, widen=0))
    assert assistant.add(docs).files_added == 3 and len(assistant.sources()) == 3
    hits = assistant.retrieve("why do corals bleach?", k=5)
    texts = [h.chunk.text for h in hits]
    assert len(hits) == 5 and len(set(texts)) == 5
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    answer = assistant.ask("why do corals bleach?")
    assert len({h.chunk.text for h in answer.hits}) == len(answer.hits)
