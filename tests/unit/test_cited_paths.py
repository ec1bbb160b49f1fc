"""The CLI names a cited file so that it can be found: two README.md files are two different lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.cli import format_answer
from rag.settings import Settings
from tests.fakes import WordEmbedder


def test_two_cited_files_of_one_name_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    for package, port in (("wiki", 8443), ("mail", 993)):
        (docs / package).mkdir(parents=True)
        (docs / package / "README.md").write_text(f"# {package}\n\nThe {package} server listens on port {port}.\n")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    a = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    a.add(docs)
    monkeypatch.chdir(tmp_path)
    answer = a.ask("which port does the server listen on?", k=2)
    cited = {Path(c.source).parent.name for c in answer.citations}
    assert cited == {"wiki", "mail"}  # both quoted: the display must tell them apart
    lines = format_answer(answer).splitlines()
    shown = {line.split(" — ")[0].split("] ", 1)[1] for line in lines if line.startswith("[")}
    assert shown == {"docs/wiki/README.md", "docs/mail/README.md"}  # was {"README.md"}
