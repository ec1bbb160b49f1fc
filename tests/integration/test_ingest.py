"""Ingestion with the real MiniLM model and real Chroma: idempotent, incremental, prunable,
readable by another process, refusing another model, and reporting bad files without stopping."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from index.chunking import MODEL_WINDOW, chunk_document
from index.embedding import MiniLMEmbedder
from index.ingest import ingest
from index.loaders import load_file
from index.store import ChunkStore, IndexMismatchError, make_client
from rag.assistant import Assistant
from tests.fakes import RecordingEmbedder

RagCli = Callable[..., subprocess.CompletedProcess[str]]
REPORT_KEYS = {"files_added", "files_updated", "files_unchanged", "files_failed", "files_removed", "chunks_added",
               "chunks_removed", "chunks_total", "tokens_embedded", "seconds"}


def ids_by_source(store: ChunkStore) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for chunk_id, _, meta in store.iter_records(include_documents=False):
        out.setdefault(str(meta["source"]), set()).add(chunk_id)
    return out


def test_every_chunk_of_the_examples_fits_the_window_and_quotes_its_file(
        examples_assistant: Assistant, embedder: MiniLMEmbedder) -> None:
    documents: dict[str, str] = {}
    n = 0
    for chunk_id, text, meta in examples_assistant.store.iter_records():
        source = str(meta["source"])
        documents.setdefault(source, load_file(source).text)
        start, end = int(meta["start"]), int(meta["end"])
        assert documents[source][start:end] == text, chunk_id
        heading = str(meta.get("heading") or "")
        embed_text = f"{heading}\n{text}" if heading else text
        assert embedder.count_tokens(embed_text) + 2 <= MODEL_WINDOW, (source, meta["index"])
        n += 1
    assert len(documents) == 6 and n == examples_assistant.store.count()
    pdf = next(s for s in documents if s.endswith(".pdf"))
    assert {c.page for c in examples_assistant.store.chunks_of(pdf)} == {1, 2, 3, 4}


def test_ingest_lifecycle(tmp_path: Path, examples_copy: Path, embedder: MiniLMEmbedder, rag_cli: RagCli) -> None:
    index_dir = tmp_path / "index"
    store = ChunkStore(make_client(index_dir), "docs", embedder.name, embedder.dimension)
    counting = RecordingEmbedder(embedder)

    # 1. First ingest: everything is new.
    first = ingest(store, counting, [examples_copy])
    assert (first.files_added, first.files_updated, first.files_unchanged, first.files_failed) == (6, 0, 0, [])
    assert first.chunks_added == first.chunks_total == store.count() > 6
    assert len(counting.embedded) == first.chunks_added
    before = ids_by_source(store)
    assert len(before) == 6

    # 2. Re-ingest: nothing to do, nothing embedded.
    counting.embedded.clear()
    again = ingest(store, counting, [examples_copy])
    assert (again.files_unchanged, again.files_added, again.files_updated) == (6, 0, 0)
    assert (again.chunks_added, again.chunks_removed, again.tokens_embedded) == (0, 0, 0)
    assert counting.embedded == [] and ids_by_source(store) == before

    # 3. Append a paragraph to one file: only its changed chunks are replaced and embedded.
    talks = examples_copy / "ukraine-security-talks.md"
    talks.write_text(talks.read_text() + "\n## Addendum\n\nNegotiators will meet again in Geneva next spring "
                     "to discuss a ceasefire monitoring mission.\n")
    counting.embedded.clear()
    changed = ingest(store, counting, [examples_copy])
    assert (changed.files_updated, changed.files_unchanged, changed.files_added) == (1, 5, 0)
    after = ids_by_source(store)
    source = str(talks.resolve())
    expected = {c.chunk_id: c for c in chunk_document(load_file(talks), embedder.count_tokens)}
    assert after[source] == set(expected)
    new_ids = set(expected) - before[source]
    stale = before[source] - set(expected)
    assert new_ids and changed.chunks_added == len(new_ids)
    assert changed.chunks_removed == len(stale)
    assert sorted(counting.embedded) == sorted(expected[i].embed_text for i in new_ids)
    assert changed.tokens_embedded == sum(expected[i].n_tokens for i in new_ids)
    assert any("Geneva" in t for t in counting.embedded)
    assert {s: ids for s, ids in after.items() if s != source} == {s: ids for s, ids in before.items() if s != source}
    assert changed.chunks_total == store.count() == sum(len(v) for v in after.values())
    assert store.file_state(source).complete

    # 4. Delete the file and prune: its chunks go, nothing else changes.
    talks.unlink()
    pruned = ingest(store, counting, [examples_copy], prune=True)
    assert (pruned.files_removed, pruned.chunks_removed) == (1, len(expected))
    remaining = ids_by_source(store)
    assert source not in remaining and len(remaining) == 5
    assert remaining == {s: ids for s, ids in after.items() if s != source}

    # 5. A new process opens the index and finds the same files and counts.
    done = rag_cli(["sources", "--index", str(index_dir), "--json"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {s: len(ids) for s, ids in sorted(remaining.items())}


def test_prune_leaves_files_outside_the_given_paths(tmp_path: Path, examples_copy: Path,
                                                    open_assistant: Callable[..., Assistant]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("A separate note about lighthouse keepers and their logbooks.")
    helper = open_assistant(tmp_path / "index")
    helper.add([examples_copy, other])
    (examples_copy / "coral-reefs.txt").unlink()
    report = helper.add(examples_copy, prune=True)
    assert report.files_removed == 1
    assert str((other / "note.txt").resolve()) in helper.sources()
    assert not any(s.endswith("coral-reefs.txt") for s in helper.sources())


def test_opening_with_another_model_fails_clearly(examples_index: Path, embedder: MiniLMEmbedder) -> None:
    client = make_client(examples_index)
    with pytest.raises(IndexMismatchError) as info:
        ChunkStore(client, "docs", "other-model", 384)
    message = str(info.value)
    assert "'all-MiniLM-L6-v2'" in message and "'other-model'" in message
    assert "rebuild it" in message and "rag ingest" in message
    with pytest.raises(IndexMismatchError, match="rebuild"):
        ChunkStore(client, "docs", embedder.name, 768)
    ChunkStore(client, "docs", embedder.name, embedder.dimension)  # the right model still opens it


def test_cli_ingest_reports_a_corrupt_pdf_and_indexes_the_rest(tmp_path: Path, rag_cli: RagCli) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("Lighthouse keepers logged every passing ship in a leather-bound book.")
    (docs / "good.md").write_text("# Tides\n\nSpring tides happen twice a month, near full and new moon.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n% not really a PDF at all\n" + b"\x00garbage" * 50)
    index_dir = tmp_path / "index"
    done = rag_cli(["ingest", str(docs), "--index", str(index_dir), "--json"], cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert set(report) >= REPORT_KEYS
    assert report["files_added"] == 2 and report["files_updated"] == 0 and report["files_unchanged"] == 0
    assert report["chunks_added"] == report["chunks_total"] == 2 and report["chunks_removed"] == 0
    assert isinstance(report["seconds"], float)
    [failure] = report["files_failed"]
    assert set(failure) == {"path", "error"}
    assert failure["path"] == str((docs / "broken.pdf").resolve())
    assert failure["error"].startswith("not a readable PDF")

    sources = rag_cli(["sources", "--index", str(index_dir), "--json"], cwd=tmp_path)
    assert sorted(Path(s).name for s in json.loads(sources.stdout)) == ["good.md", "good.txt"]


def test_cli_bad_usage_exits_2(tmp_path: Path, rag_cli: RagCli) -> None:
    done = rag_cli(["ingest"], cwd=tmp_path)
    assert done.returncode == 2
    assert "the following arguments are required: PATH" in done.stderr
    assert rag_cli(["ingest", "x", "--no-such-flag"], cwd=tmp_path).returncode == 2


def test_a_store_error_on_one_file_costs_only_that_file(
        tmp_path: Path, examples_copy: Path, open_assistant: Callable[..., Assistant]) -> None:
    """Chroma refusing one file's records (here: injected) must not lose the files batched with it."""
    assistant = open_assistant(tmp_path / "index")
    collection = assistant.store.collection
    real_upsert = collection.upsert
    calls: list[int] = []

    def upsert_refusing_coral(**kwargs: object) -> None:
        calls.append(len(kwargs["ids"]))  # type: ignore[arg-type]
        if any("coral" in str(meta["source"]) for meta in kwargs["metadatas"]):  # type: ignore[attr-defined]
            raise ValueError("injected write failure")
        real_upsert(**kwargs)

    collection.upsert = upsert_refusing_coral  # type: ignore[method-assign]
    report = assistant.add(examples_copy)
    assert [Path(f.path).name for f in report.files_failed] == ["coral-reefs.txt"]
    assert "could not write to the index: injected write failure" in report.files_failed[0].error
    assert report.files_added == 5
    # The shared upsert failed first, then each file was written on its own.
    assert calls[0] > max(calls[1:]) and len(calls) == 1 + 6
    sources = {Path(s).name for s in assistant.sources()}
    assert "coral-reefs.txt" not in sources and len(sources) == 5

    collection.upsert = real_upsert  # type: ignore[method-assign]
    retry = assistant.add(examples_copy)
    assert retry.ok and retry.files_added == 1 and retry.files_unchanged == 5
    assert "coral-reefs.txt" in {Path(s).name for s in assistant.sources()}
