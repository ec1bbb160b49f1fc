"""The bench corpus (Python's HTML documentation from Debian's ``python3.11-doc``) and questions.

>>> quick_rule()
'library/*.html whose names start with a, b or c'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from index.errors import RagError

DOC_ROOT = Path("/usr/share/doc/python3.11/html")
INSTALL_HINT = "apt-get update && apt-get install -y python3.11-doc"
QUESTIONS = Path(__file__).with_name("questions.jsonl")
_QUICK_PREFIXES = ("a", "b", "c")


class CorpusMissingError(RagError, RuntimeError):
    """The documentation package is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Question:
    """A question about the docs and the file (relative to ``DOC_ROOT``) that answers it."""

    id: str
    question: str
    file: str

    def hit(self, source: str) -> bool:
        """Does a retrieved ``source`` path point at the expected file?

        >>> Question("q", "?", "library/csv.html").hit("/usr/share/doc/python3.11/html/library/csv.html")
        True
        >>> Question("q", "?", "library/csv.html").hit("/x/library/abc.html")
        False
        """
        return source.replace("\\", "/").endswith("/" + self.file)


def quick_rule() -> str:
    return f"library/*.html whose names start with {', '.join(_QUICK_PREFIXES[:-1])} or {_QUICK_PREFIXES[-1]}"


def corpus_files(quick: bool, root: Path = DOC_ROOT) -> list[Path]:
    """Every ``.html`` file under ``root`` (sorted), or the quick subset; raises if none exist."""
    if not (root / "library").is_dir():
        raise CorpusMissingError(f"the bench corpus {root} is missing; install it with: {INSTALL_HINT}")
    if quick:
        files = [p for p in (root / "library").glob("*.html") if p.name.startswith(_QUICK_PREFIXES)]
    else:
        files = [p for p in root.rglob("*.html") if not any(part.startswith(".") for part in p.parts)]
    return sorted(p.resolve() for p in files)


def upload_files(root: Path = DOC_ROOT) -> list[Path]:
    """Pages the quick corpus does not hold (library/*.html from d to e): an upload for the
    answers-during-an-upload measurement."""
    return sorted(p.resolve() for p in (root / "library").glob("*.html") if p.name.startswith(("d", "e")))


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The bench questions, one JSON object a line: ``{"id", "question", "file"}``."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            out.append(Question(str(row["id"]), str(row["question"]), str(row["file"])))
        except KeyError as exc:
            raise ValueError(f"{path.name} line {n}: {exc.args[0]!r} is missing") from None
    return out
