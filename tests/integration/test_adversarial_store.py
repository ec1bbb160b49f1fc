"""Issue 18, the store under real conditions: a long-lived reader while another process writes, a
Chroma server killed mid-ingest and mid-question, bad index paths and names, hostile file names,
identical files. Real processes, the real CLI, real Chroma; every case is bounded by a timeout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from index.embedding import MiniLMEmbedder
from rag.assistant import Assistant
from tests.integration.conftest import EXAMPLES, clean_settings

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
