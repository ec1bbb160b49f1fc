"""Verify that every evidence span in a dataset occurs verbatim in its source document.

Usage (from the repo root):
    .venv/bin/python evals/datasets/check_evidence.py [dataset.jsonl] [docs_dir]

Defaults: evals/datasets/examples.jsonl and examples/.
Text is extracted per format, then whitespace runs are collapsed to one space
in both the document text and the span before the substring check.
Exit status is 1 if any span is missing or a case is malformed.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATASET = HERE / "examples.jsonl"
DEFAULT_DOCS = HERE.parent.parent / "examples"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def extract(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".md", ".txt"}:
        return path.read_text(encoding="utf-8")
    if suffix in {".html", ".htm"}:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for tag in soup(["script", "style"]):
            tag.decompose()
        return soup.get_text(" ")
    if suffix == ".pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(path))
        try:
            return "\n".join(
                pdf[i].get_textpage().get_text_range() for i in range(len(pdf))
            )
        finally:
            pdf.close()
    if suffix == ".docx":
        import docx

        return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    raise ValueError(f"unsupported file type: {path.name}")


def main(argv: list[str]) -> int:
    dataset = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATASET
    docs_dir = Path(argv[2]) if len(argv) > 2 else DEFAULT_DOCS
    cache: dict[str, str] = {}
    failures = 0
    cases = spans = 0
    ids: set[str] = set()

    for lineno, line in enumerate(dataset.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        case = json.loads(line)
        cases += 1
        cid = case.get("id", f"line {lineno}")
        if cid in ids:
            print(f"FAIL {cid}: duplicate id")
            failures += 1
        ids.add(cid)
        if not case.get("answerable", True):
            if case.get("evidence"):
                print(f"FAIL {cid}: unanswerable case has evidence")
                failures += 1
            continue
        source = case.get("source")
        if not source or not case.get("evidence"):
            print(f"FAIL {cid}: answerable case needs source and evidence")
            failures += 1
            continue
        if source not in cache:
            cache[source] = normalise(extract(docs_dir / source))
        text = cache[source]
        for span in case["evidence"]:
            spans += 1
            if normalise(span) not in text:
                print(f"FAIL {cid}: span not found in {source}: {span!r}")
                failures += 1

    print(f"checked {cases} cases, {spans} evidence spans, {len(cache)} documents: "
          f"{'all OK' if not failures else f'{failures} failure(s)'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
