"""The follow-up runner's dataset and summary (``python -m evals.followups``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.followups import FollowUpResult, load_conversations, summary
from rag.documents import load_file
from rag.errors import UsageError

DATASET = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "followups.jsonl"


def test_the_bundled_conversations_have_two_turns_and_evidence() -> None:
    conversations = load_conversations(DATASET)
    assert len(conversations) >= 25
    assert all(len(c.turns) == 2 and c.evidence and c.source for c in conversations)
    assert len({c.id for c in conversations}) == len(conversations)


def test_the_examples_conversations_quote_the_examples_as_the_loader_reads_them() -> None:
    """Every evidence span of ``followups_examples.jsonl`` is in its example document's text (PDF and
    DOCX included), so a miss is the answer's, never the dataset's."""
    examples = DATASET.parents[2] / "examples"
    conversations = load_conversations(DATASET.with_name("followups_examples.jsonl"))
    assert len(conversations) >= 15 and len({c.id for c in conversations}) == len(conversations)
    texts = {c.source: " ".join(load_file(examples / c.source).text.split()) for c in conversations}
    for c in conversations:
        assert all(" ".join(span.split()) in texts[c.source] for span in c.evidence), c.id


def test_a_conversation_without_a_follow_up_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "turns": ["q1", "q2"], "evidence": ["e"]}\n{"id": "b", "turns": ["q1"], '
                    '"evidence": ["e"]}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"c\.jsonl line 2"):
        load_conversations(path)


def test_the_summary_counts_answers_refusals_and_repeats() -> None:
    def result(answered: bool, refused: bool, repeats: bool, share: float) -> FollowUpResult:
        return FollowUpResult("x", "and?", "q; and?", "first", "answer", share, answered, refused, repeats)

    totals = summary([result(True, False, True, 1.0), result(False, True, False, 0.0),
                      result(False, False, False, 0.5)])
    assert totals == {"conversations": 3, "answered": 1, "answered_share": 0.333, "refused": 1,
                      "repeats_first": 1, "mean_evidence_words": 0.5}
