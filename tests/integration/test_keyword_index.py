"""The keyword index saved beside the store: used only when it matches the store exactly.

Real embedded Chroma, real processes; vectors are made up (BM25 never reads them), so no model
is loaded and these tests are quick.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.lock import WriterLock
from index.records import Chunk
from index.store import ChunkStore, make_client
from rag.retrieve.keyword import KeywordIndex, saved_path

ROOT = Path(__file__).resolve().parents[2]
TEXTS = {
    "rivers.txt": ["The river floods the meadow every spring.", "Copper lanterns hang above the harbour."],
    "birds.txt": ["A kestrel hovers over the hollow.", "The falcon nests on granite cliffs near the glacier."],
}


def _chunks(source: str, texts: list[str]) -> list[Chunk]:
    out, start = [], 0
    for i, text in enumerate(texts):
        cid = hashlib.sha1(f"{source}:{i}:{text}".encode()).hexdigest()
        out.append(Chunk(chunk_id=cid, doc_id=source, source=source, text=text, start=start,
                         end=start + len(text), index=i, heading=("Notes",), n_tokens=len(text.split())))
        start += len(text) + 1
    return out


def _store(index: Path) -> ChunkStore:
    return ChunkStore(make_client(index), "docs", "all-MiniLM-L6-v2", 384)


def write(store: ChunkStore, source: str, texts: list[str], bump: bool = True) -> None:
    """What an ingest does for one file, under the writer lock."""
    chunks = _chunks(source, texts)
    rng = np.random.default_rng(len(source))
    vectors = {c.chunk_id: (v := rng.normal(size=384).astype(np.float32)) / np.linalg.norm(v) for c in chunks}
    assert store.folder is not None
    with WriterLock(store.folder):
        old = [i for i in store.file_state(source).chunk_ids if i not in vectors]
        store.write_file(chunks, vectors, hashlib.sha1("".join(texts).encode()).hexdigest(), source, old)
        if bump:
            store.bump_generation()


def ranked(index: KeywordIndex, query: str) -> list[tuple[str, float]]:
    return [(c.text, round(s, 6)) for c, s in index.search(query, 10)]


@pytest.fixture
def store(tmp_path: Path) -> ChunkStore:
    s = _store(tmp_path / "index")
    for source, texts in TEXTS.items():
        write(s, source, texts)
    return s


def test_a_new_process_loads_the_saved_index_and_ranks_the_same(store: ChunkStore) -> None:
    first = KeywordIndex(store)
    expected = {q: ranked(first, q) for q in ("falcon granite", "harbour lantern", "river")}
    assert not first.loaded_from_file
    assert store.folder is not None and saved_path(store.folder, "docs").is_file()
    code = ("import json, sys; from index.store import ChunkStore, make_client; "
            "from rag.retrieve.keyword import KeywordIndex; "
            "k = KeywordIndex(ChunkStore(make_client(sys.argv[1]), 'docs', 'all-MiniLM-L6-v2', 384)); "
            "out = {q: [[c.text, round(s, 6)] for c, s in k.search(q, 10)] for q in json.loads(sys.argv[2])}; "
            "print(json.dumps([k.loaded_from_file, out]))")
    run = subprocess.run([sys.executable, "-c", code, str(store.folder), json.dumps(list(expected))],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    loaded, got = json.loads(run.stdout.strip().splitlines()[-1])
    assert loaded is True
    assert {q: [tuple(x) for x in v] for q, v in got.items()} == expected


def test_writes_by_another_process_are_seen_and_the_old_file_is_not_used(store: ChunkStore) -> None:
    reader = KeywordIndex(store)
    assert ranked(reader, "orchard") == []
    code = ("import sys, pathlib; sys.path.insert(0, sys.argv[2]); "
            "from tests.integration.test_keyword_index import _store, write; "
            "write(_store(pathlib.Path(sys.argv[1])), 'trees.txt', ['The orchard blooms in violet.'])")
    subprocess.run([sys.executable, "-c", code, str(store.folder), str(ROOT)], cwd=ROOT, check=True, timeout=120)
    assert [t for t, _ in ranked(reader, "orchard")] == ["The orchard blooms in violet."]  # same process, refreshed
    fresh = KeywordIndex(store)
    assert [t for t, _ in ranked(fresh, "orchard")] == ["The orchard blooms in violet."]


def test_a_changed_file_with_the_same_chunk_count_is_never_answered_from_the_old_index(store: ChunkStore) -> None:
    KeywordIndex(store).refresh()  # saved
    write(store, "birds.txt", ["A heron wades in the lagoon.", "The falcon nests on granite cliffs near the glacier."])
    again = KeywordIndex(store)
    assert [t for t, _ in ranked(again, "kestrel")] == []
    assert [t for t, _ in ranked(again, "heron lagoon")] == ["A heron wades in the lagoon."]
    assert not again.loaded_from_file


def test_a_writer_that_crashed_before_its_final_bump_still_invalidates_the_file(store: ChunkStore) -> None:
    KeywordIndex(store).refresh()  # saved
    write(store, "birds.txt", ["A heron wades in the lagoon.", "Quartz pebbles line the shore."], bump=False)
    again = KeywordIndex(store)
    assert not again.loaded_from_file
    assert [t for t, _ in ranked(again, "heron")] == ["A heron wades in the lagoon."]
    assert [t for t, _ in ranked(again, "kestrel")] == []


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other key"])
def test_a_damaged_or_half_written_file_is_ignored_and_replaced(store: ChunkStore, damage: str) -> None:
    expected = ranked(KeywordIndex(store), "falcon")
    assert store.folder is not None
    path = saved_path(store.folder, "docs")
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 20)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a complete file, but for another state of the store
        write(store, "rivers.txt", ["The river floods the meadow every spring.", "Marble steps lead to the harbour."])
        expected = ranked(KeywordIndex(store), "falcon")
        path.write_bytes(data)
    again = KeywordIndex(store)
    assert ranked(again, "falcon") == expected
    assert not again.loaded_from_file
    KeywordIndex(store).refresh()
    assert path.read_bytes() != data[: len(data) // 2]
    reloaded = KeywordIndex(store)
    assert ranked(reloaded, "falcon") == expected and reloaded.loaded_from_file


def test_nothing_is_saved_while_a_writer_holds_the_lock(store: ChunkStore) -> None:
    assert store.folder is not None
    path = saved_path(store.folder, "docs")
    with WriterLock(store.folder):
        KeywordIndex(store).refresh()
    assert not path.exists()
    KeywordIndex(store).refresh()
    assert path.exists()


def test_no_temporary_files_are_left_behind(store: ChunkStore) -> None:
    KeywordIndex(store).refresh()
    assert store.folder is not None
    assert not [p.name for p in store.folder.iterdir() if p.name.endswith(".tmp")]


def _rewrite_key(path: Path, **changes: object) -> None:
    """Rewrite the key of a saved index file, arrays untouched (as an older build would have keyed it)."""
    with np.load(path, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files}
    meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    meta["key"].update(changes)
    arrays["meta"] = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    with path.open("wb") as f:
        np.savez(f, **arrays)


def test_cjk_text_is_searched_by_bigrams_and_a_file_of_the_previous_format_is_rebuilt(store: ChunkStore) -> None:
    write(store, "tea.txt", ["茶园每天早上八点开门。", "参观者可以在茶室品尝绿茶。"])
    first = KeywordIndex(store)
    assert [t for t, _ in ranked(first, "茶园几点开门？")] == ["茶园每天早上八点开门。"]
    assert store.folder is not None
    path = saved_path(store.folder, "docs")
    _rewrite_key(path, format=1)  # saved by format 1: whole CJK runs as terms
    old = KeywordIndex(store)
    assert [t for t, _ in ranked(old, "茶园几点开门？")] == ["茶园每天早上八点开门。"]
    assert not old.loaded_from_file  # rebuilt, and saved again in the current format
    again = KeywordIndex(store)
    assert [t for t, _ in ranked(again, "品尝绿茶")] == ["参观者可以在茶室品尝绿茶。"] and again.loaded_from_file
