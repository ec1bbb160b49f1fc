"""A full disk, a read-only index and a damaged vector segment, through the real CLI and real Chroma.

Small tmpfs mounts stand in for a full or read-only disk (root only: skipped with the reason
otherwise). Every command runs with a timeout, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.embedding import MiniLMEmbedder
from index.store import ChunkStore, make_client
from tests.integration.conftest import expected_chunk_ids

Cli = Callable[..., subprocess.CompletedProcess[str]]
WORDS = ("river", "harbour", "lantern", "copper", "meadow", "signal", "orchard", "thunder", "violet", "granite",
         "compass", "ember", "falcon", "glacier", "hollow", "island", "juniper", "kestrel", "lagoon", "marble")
QUESTION = "what did Zelenskyy reject?"
TIMEOUT = 240  # seconds per command: a hang fails instead of waiting forever


def _one_sentence(out: subprocess.CompletedProcess[str], command: str) -> str:
    """The stderr of a failed command: exactly one ``rag COMMAND: …`` line and no traceback."""
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith(f"rag {command}: ")]
    assert len(lines) == 1, out.stderr
    return lines[0]


def _mount(folder: Path, *options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


def _remount(folder: Path, *options: str) -> None:
    subprocess.run(["mount", "-o", ",".join(("remount", *options)), str(folder)], check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 8 MB, unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    _mount(disk, "size=8m")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _write_notes(folder: Path, n: int) -> None:
    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        paragraphs = [" ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
                               for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(3, 8))]
        (folder / f"note-{i:03d}.txt").write_text("\n\n".join(paragraphs) + f"\n\nThe serial of note {i} is {i}.\n")


def _stored(index: Path) -> dict[str, list[str]]:
    """Chunk ids per source as a fresh client reads them (a list, so a duplicate would show)."""
    store = ChunkStore(make_client(index, create=False), "docs", "all-MiniLM-L6-v2", 384, create=False)
    out: dict[str, list[str]] = {}
    for cid, _, meta in store.iter_records(include_documents=False):
        out.setdefault(str(meta["source"]), []).append(cid)
    return out


def _chunks(index: Path) -> dict[str, tuple[str, dict[str, object]]]:
    """Every stored passage's text and metadata by id, read by a fresh client."""
    store = ChunkStore(make_client(index, create=False), "docs", "all-MiniLM-L6-v2", 384, create=False)
    return {cid: (text, meta) for cid, text, meta in store.iter_records()}


def _answer(out: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """An answer's JSON without its timings (the only part allowed to differ between runs)."""
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    answer.pop("timings", None)
    return answer


def test_ingest_on_a_small_disk_stops_with_a_truthful_report_and_completes_once_space_is_freed(
        tmp_path: Path, small_disk: Path, rag_cli: Cli, embedder: MiniLMEmbedder) -> None:
    notes, index = tmp_path / "notes", small_disk / "index"
    _write_notes(notes, 40)
    expected = expected_chunk_ids(notes, embedder)

    out = rag_cli(["ingest", str(notes), "--index", str(index), "--json"], cwd=tmp_path, timeout=TIMEOUT)
    assert out.returncode == 4, out.stderr
    sentence = _one_sentence(out, "ingest")
    assert f"the disk holding the index {index} has" in sentence and "MB free, but indexing the next" in sentence
    assert "needs about" in sentence and "re-run 'rag ingest'" in sentence and "damaged" not in sentence
    report = json.loads(out.stdout)
    stored = _stored(index)
    # Truthful: the files reported added are exactly the complete ones in the store, and no other.
    assert 0 < report["files_added"] < len(expected) and report["files_failed"] == []
    assert len(stored) == report["files_added"] == int(sentence.split(" after ")[1].split()[0])
    assert {s: set(ids) for s, ids in stored.items()} == {s: expected[s] for s in stored}
    assert report["chunks_added"] == report["chunks_total"] == sum(len(ids) for ids in stored.values())
    # The vector segments stayed readable: a question is answered from what was written.
    assert rag_cli(["ask", "which serial has note 0?", "--index", str(index)], cwd=tmp_path,
                   timeout=TIMEOUT).returncode == 0

    _remount(small_disk, "size=64m")
    out = rag_cli(["ingest", str(notes), "--index", str(index), "--json"], cwd=tmp_path, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    again = json.loads(out.stdout)
    assert again["files_unchanged"] == report["files_added"]
    assert again["files_added"] == len(expected) - report["files_added"]
    stored = _stored(index)
    assert all(len(ids) == len(set(ids)) for ids in stored.values())  # nothing duplicated
    assert {s: set(ids) for s, ids in stored.items()} == expected  # nothing lost or stale
    asked = rag_cli(["ask", "what is the serial of note 39?", "--index", str(index), "--json"], cwd=tmp_path,
                    timeout=TIMEOUT)
    assert asked.returncode == 0 and not json.loads(asked.stdout)["refused"], asked.stdout[-500:]


def test_a_full_disk_is_said_to_be_full_never_damaged_and_nothing_is_lost(
        tmp_path: Path, small_disk: Path, index_copy: Path, examples_copy: Path, rag_cli: Cli) -> None:
    index = small_disk / "index"
    shutil.copytree(index_copy, index)
    before = _answer(rag_cli(["ask", QUESTION, "--index", str(index), "--json"], cwd=tmp_path, timeout=TIMEOUT))
    filler = small_disk / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)  # until the disk is full
    extra = examples_copy / "extra.txt"
    extra.write_text("The lighthouse keeper of Varne is Mara Olsen. She lights the lamp at dusk.\n")

    for args in (["ingest", str(extra)], ["sources"], ["ask", QUESTION]):
        out = rag_cli([*args, "--index", str(index)], cwd=tmp_path, timeout=TIMEOUT)
        sentence = _one_sentence(out, args[0])
        assert out.returncode == 4, (args, out.stderr)
        assert f"the disk holding the index {index}" in sentence and "free some space" in sentence, sentence
        assert "damaged" not in sentence and "move it aside" not in sentence

    filler.unlink()
    assert _answer(rag_cli(["ask", QUESTION, "--index", str(index), "--json"], cwd=tmp_path,
                           timeout=TIMEOUT)) == before
    out = rag_cli(["ingest", str(extra), "--index", str(index), "--json"], cwd=tmp_path, timeout=TIMEOUT)
    assert out.returncode == 0 and json.loads(out.stdout)["files_added"] == 1, out.stderr


def test_a_damaged_vector_segment_is_found_by_doctor_and_rebuilt_by_repair(
        tmp_path: Path, index_copy: Path, rag_cli: Cli, embedder: MiniLMEmbedder) -> None:
    index = index_copy
    # repair re-embeds in the precision the index was built in, so that the answer can be the same
    same = {"RAG_EMBED_PRECISION": embedder.precision}
    before = _answer(rag_cli(["ask", QUESTION, "--index", str(index), "--json"], cwd=tmp_path, timeout=TIMEOUT,
                             extra_env=same))
    chunks = _chunks(index)
    segments = [p for p in index.iterdir() if (p / "data_level0.bin").exists()]
    assert len(segments) == 2  # the passages' and the sentences' vectors
    for segment in segments:  # what a compaction that ran out of space left: a 0-byte id map, cut data
        (segment / "index_metadata.pickle").write_bytes(b"")
        with open(segment / "data_level0.bin", "r+b") as data:
            data.truncate(data.seek(0, 2) // 2)

    out = rag_cli(["ask", QUESTION, "--index", str(index)], cwd=tmp_path, timeout=TIMEOUT, extra_env=same)
    sentence = _one_sentence(out, "ask")
    assert out.returncode == 5 and f"'rag repair --index {index} --collection docs'" in sentence, sentence
    doctor = rag_cli(["doctor", "--index", str(index)], cwd=tmp_path, timeout=TIMEOUT, extra_env=same)
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    assert any(line.startswith("FAIL  vector index: cannot be read") and "rag repair" in line
               for line in doctor.stdout.splitlines()), doctor.stdout

    repaired = rag_cli(["repair", "--index", str(index), "--json"], cwd=tmp_path, timeout=TIMEOUT, extra_env=same)
    assert repaired.returncode == 0, repaired.stderr
    report = json.loads(repaired.stdout)
    assert report["chunks_damaged"] and report["sentences_damaged"] and report["chunks_reembedded"] > 0
    doctor = rag_cli(["doctor", "--index", str(index)], cwd=tmp_path, timeout=TIMEOUT, extra_env=same)
    assert "ok    vector index" in doctor.stdout and doctor.returncode == 0, doctor.stdout
    assert _answer(rag_cli(["ask", QUESTION, "--index", str(index), "--json"], cwd=tmp_path,
                           timeout=TIMEOUT, extra_env=same)) == before
    assert _chunks(index) == chunks  # the same passages, text and metadata, under the same ids


def test_a_read_only_index_gets_its_own_sentence_and_is_kept(
        tmp_path: Path, small_disk: Path, index_copy: Path, examples_copy: Path, rag_cli: Cli) -> None:
    index = small_disk / "index"
    shutil.copytree(index_copy, index)
    before = _answer(rag_cli(["ask", QUESTION, "--index", str(index), "--json"], cwd=tmp_path, timeout=TIMEOUT))
    _remount(small_disk, "ro")  # root ignores chmod; a read-only mount it cannot

    for args in (["ingest", str(examples_copy)], ["ask", QUESTION]):
        out = rag_cli([*args, "--index", str(index)], cwd=tmp_path, timeout=TIMEOUT)
        sentence = _one_sentence(out, args[0])
        assert out.returncode == 4, out.stderr
        # Chroma 1.5 writes when it opens an index, so even a question cannot be answered read-only.
        assert f"the index {index} is read-only" in sentence and "not damaged" in sentence, sentence
        assert "move it aside" not in sentence

    _remount(small_disk, "rw")
    assert _answer(rag_cli(["ask", QUESTION, "--index", str(index), "--json"], cwd=tmp_path,
                           timeout=TIMEOUT)) == before
