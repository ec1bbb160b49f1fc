"""The note on a retrieval miss says where the chunk holding the evidence ranks: that chunk, and its
own rank, not a passage that deeper widening grew to cover it."""

from __future__ import annotations

from pathlib import Path

from evals.dataset import EvalCase
from evals.runner import DEEP_K, run_eval
from rag.assistant import Assistant
from rag.settings import Settings
from tests.fakes import WordEmbedder

EVIDENCE = "The northern valley lost forty metres of ice."


def _section(i: int, fact: str = "") -> str:
    filler = " ".join(f"term{i}x{j}" for j in range(160))  # words no other section has: one chunk each
    return f"# Section {i}\n\nSection {i} covers {filler}. {fact}\n\n"


def test_a_miss_note_names_the_chunk_that_holds_the_evidence_and_its_rank(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    sections = [_section(i) for i in range(8)]
    sections[1] = _section(1, "Glacier melt rates: glacier melt rates doubled.")
    sections[4] = _section(4, EVIDENCE)  # no word of the question
    sections[5] = _section(5, "A glacier was seen.")  # ranks below the other files' passages
    (docs / "manual.md").write_text("".join(sections))
    for n in range(3):
        (docs / f"other{n}.md").write_text(_section(10 + n, "Glacier melt was discussed at length."))
    settings = Settings.load(env={"RAG_WIDEN": "1", "RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    question = "glacier melt rates?"

    run = run_eval([EvalCase("melt", question, (EVIDENCE,))], docs, assistant=helper, k=1)
    (case,) = run.cases
    assert case.metrics["hit_at_k"] == 0.0  # the answer's one passage does not hold the evidence
    # Read 50 deep, widening joins the evidence into the first passage: the trap the note fell into.
    deep_first = helper.retrieve(question, k=DEEP_K)[0]
    assert EVIDENCE in deep_first.chunk.text and deep_first.chunk.index != 4

    chunks = helper.retrieve(question, k=DEEP_K, widen=0)
    holder = next(h for h in chunks if EVIDENCE in h.chunk.text)
    assert holder.chunk.index == 4 and holder.rank > 1
    (note,) = [n for n in case.notes if "ranks" in n]
    assert f"(manual.md, chunk 4) ranks #{holder.rank} of the chunks" in note, note
