"""A giant line without spaces (issue 18 item 4), through the real CLI: chunks stay bounded in
characters and honest word pieces, memory stays bounded and ``rag ask --json`` prints a bounded
answer. Before the fix the whole line was one chunk (``n_tokens=1``) printed whole by ``ask``."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from index.chunking import MAX_CHUNK_CHARS, MODEL_WINDOW

ROOT = Path(__file__).resolve().parents[2]
RUN_CHARS = 300_000  # ~1,100 chunks: big enough to show the bound, small enough to embed quickly
# Runs the CLI in a child and writes the child's peak resident size (kB) to argv[1].
_PEAK = ("import resource, subprocess, sys\n"
         "r = subprocess.run(sys.argv[2:], capture_output=True, text=True)\n"
         "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
         "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
         "sys.exit(r.returncode)\n")


def _rag(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """``python -m rag.cli`` from this tree (the installed script may import another checkout)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    peak = tmp_path / "peak-kb"
    run = subprocess.run([sys.executable, "-c", _PEAK, str(peak), sys.executable, "-m", "rag.cli", *args],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    return run, int(peak.read_text())


def test_a_giant_line_is_cut_counted_and_printed_within_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    block = "".join(rng.choice("0123456789abcdef") for _ in range(4000))  # one [UNK] to MiniLM
    run_text = (block * (RUN_CHARS // len(block) + 1))[:RUN_CHARS]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "giant.txt").write_text(f"The warranty lasts seven years.\n\n{run_text}\n\nSpare parts cost 120 euros.\n")
    index = str(tmp_path / "index")

    ingest, ingest_kb = _rag(tmp_path, "ingest", str(docs), "--index", index, "--json")
    assert ingest.returncode == 0, ingest.stderr
    report = json.loads(ingest.stdout)
    # Honest word pieces: a 100-character hex slice is dozens of pieces, not one [UNK] per run.
    assert report["tokens_embedded"] > RUN_CHARS // 10
    assert report["chunks_total"] >= RUN_CHARS // MAX_CHUNK_CHARS
    assert ingest_kb < 1_500_000, f"ingest peaked at {ingest_kb / 1e6:.2f} GB"

    ask, ask_kb = _rag(tmp_path, "ask", "How long does the warranty last?", "--index", index, "--json")
    assert ask.returncode == 0, ask.stderr
    assert len(ask.stdout) < 100_000, f"rag ask --json printed {len(ask.stdout):,} characters"  # was 2x the file
    answer = json.loads(ask.stdout)
    # A passage is its chunk and, widened (the default), neighbours; merged passages can bridge a
    # few. Each chunk is bounded on its own, and so is the whole output (above).
    for hit in [*answer["hits"], *answer["related"]]:
        assert hit["anchors"] or len(hit["chunk"]["text"]) <= MAX_CHUNK_CHARS
        for anchor in hit["anchors"]:
            assert anchor["end"] - anchor["start"] <= MAX_CHUNK_CHARS
    monkeypatch.setenv("RAG_WIDEN", "0")  # unwidened, a passage is one chunk: bounded in characters and pieces
    plain, _ = _rag(tmp_path, "ask", "How long does the warranty last?", "--index", index, "--json")
    for hit in [*json.loads(plain.stdout)["hits"]]:
        assert len(hit["chunk"]["text"]) <= MAX_CHUNK_CHARS and hit["chunk"]["n_tokens"] <= MODEL_WINDOW - 2
    assert ask_kb < 1_500_000, f"ask peaked at {ask_kb / 1e6:.2f} GB"
