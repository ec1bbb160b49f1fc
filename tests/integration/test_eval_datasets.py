"""The real-corpus eval sets hold what they claim: every evidence span occurs in the text our loader
extracts from its page, ids are unique, every source is listed, and the counts are large enough
(``evals/datasets/check_pydocs.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evals.corpora import DEBIAN_PDFS, PYDOCS_ROOT

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"


@pytest.mark.parametrize(("dataset", "pages"), [("pydocs.jsonl", "pydocs_pages.txt"),
                                                 ("pydocs_heldout.jsonl", "pydocs_heldout_pages.txt")])
def test_every_evidence_span_is_in_its_page_as_the_loader_extracts_it(dataset: str, pages: str) -> None:
    if not PYDOCS_ROOT.is_dir():
        pytest.skip("Python's documentation is not installed (sudo apt-get install python3.11-doc; .ci/setup does)")
    done = subprocess.run([sys.executable, str(DATASETS / "check_pydocs.py"), str(DATASETS / dataset),
                           str(DATASETS / pages), str(PYDOCS_ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.rstrip().endswith("OK")


@pytest.mark.parametrize("dataset", ["followups.jsonl", "followups_heldout.jsonl"])
def test_every_follow_up_evidence_span_is_in_its_page(dataset: str) -> None:
    """The Python-docs follow-up sets quote their pages as the loader reads them, so a miss is the
    answer's, never the dataset's."""
    if not PYDOCS_ROOT.is_dir():
        pytest.skip("Python's documentation is not installed (sudo apt-get install python3.11-doc; .ci/setup does)")
    from evals.followups import load_conversations
    from rag.documents import load_file

    conversations = load_conversations(DATASETS / dataset)
    texts = {c.source: " ".join(load_file(PYDOCS_ROOT / c.source).text.split()) for c in conversations}
    missing = [(c.id, span[:60]) for c in conversations for span in c.evidence
               if " ".join(span.split()) not in texts[c.source]]
    assert missing == []


def test_every_pdf_evidence_span_is_in_its_manual_as_the_loader_extracts_it() -> None:
    """``pdfs.jsonl`` (two Debian PDF manuals, questions written blind by a helper) quotes the text
    as our PDF loader reads it, so a miss is the answer's, never the dataset's."""
    if any(not path.is_file() for path, _ in DEBIAN_PDFS.values()):
        pytest.skip("the PDF manuals are not installed (sudo apt-get install libtasn1-doc shared-mime-info; "
                    ".ci/setup does)")
    import json

    from rag.documents import load_file

    cases = [json.loads(line) for line in (DATASETS / "pdfs.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = {name: " ".join(load_file(path).text.split()) for name, (path, _) in DEBIAN_PDFS.items()}
    answerable = [c for c in cases if c["answerable"]]
    missing = [(c["id"], span[:60]) for c in answerable for span in c["evidence"]
               if " ".join(span.split()) not in texts[c["source"]]]
    assert missing == [] and len(answerable) >= 30 and len({c["id"] for c in cases}) == len(cases)
