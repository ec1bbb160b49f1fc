"""Two-turn conversations: does the follow-up's answer hold its evidence?

A conversations file is JSONL, one a line: ``id``, ``turns`` (the first question, then the
follow-up), ``evidence`` (verbatim spans answering the follow-up) and an optional ``source``.
Each conversation is asked through ``Assistant.chat()``; the follow-up's answer holds the evidence
when it has at least ``EVIDENCE_ANSWERED`` of a span's content words, as ``rag eval`` counts it.
It also says whether the follow-up repeats a quote of the first answer::

    python -m evals.followups evals/datasets/followups.jsonl --index /tmp/followup-idx
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from evals.metrics import EVIDENCE_ANSWERED, evidence_word_share
from rag.assistant import Assistant
from rag.errors import RagError, UsageError
from rag.records import Answer


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[str, ...]
    evidence: tuple[str, ...]
    source: str = ""


@dataclass(frozen=True)
class FollowUpResult:
    id: str
    follow_up: str
    standalone: str
    first_answer: str
    answer: str
    evidence_words: float
    answered: bool
    refused: bool
    repeats_first: bool  # a quote of the follow-up's answer was already quoted by the first answer


def load_conversations(path: str | Path) -> list[Conversation]:
    """The conversations of a JSONL file (each with at least two turns)."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if len(row.get("turns", ())) < 2 or not row.get("evidence"):
            raise UsageError(f"{Path(path).name} line {number}: a conversation needs two turns and evidence")
        out.append(Conversation(str(row["id"]), tuple(row["turns"]), tuple(row["evidence"]), row.get("source", "")))
    return out


def overlapping_quotes(first: Answer, later: Answer) -> bool:
    """Whether ``later`` quotes text of a document that ``first`` already quoted."""
    return any(a.source == b.source and a.start < b.end and b.start < a.end
               for a in first.citations for b in later.citations)


def run_conversation(assistant: Assistant, conversation: Conversation) -> FollowUpResult:
    """Ask every turn in one chat; score the last one."""
    chat = assistant.chat()
    answers = [chat.ask(turn) for turn in conversation.turns]
    first, last = answers[0], answers[-1]
    share = 0.0 if last.refused else evidence_word_share(last.text, conversation.evidence)
    return FollowUpResult(conversation.id, conversation.turns[-1], last.standalone_question, first.text, last.text,
                          round(share, 3), share >= EVIDENCE_ANSWERED, last.refused,
                          overlapping_quotes(first, last))


def summary(results: Sequence[FollowUpResult]) -> dict[str, float | int]:
    n = len(results)
    return {"conversations": n, "answered": sum(r.answered for r in results),
            "answered_share": round(sum(r.answered for r in results) / n, 3) if n else 0.0,
            "refused": sum(r.refused for r in results), "repeats_first": sum(r.repeats_first for r in results),
            "mean_evidence_words": round(sum(r.evidence_words for r in results) / n, 3) if n else 0.0}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.followups", description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--index", required=True, help="an index of the conversations' documents (rag ingest)")
    parser.add_argument("--out", help="write every result and the summary to this JSON file")
    args = parser.parse_args(argv)
    try:
        assistant = Assistant(args.index, create=False)
        results = [run_conversation(assistant, c) for c in load_conversations(args.dataset)]
    except RagError as error:
        print(error, file=sys.stderr)
        return 2
    for r in results:
        mark = "REFUSED" if r.refused else ("ok" if r.answered else "miss")
        print(f"{r.id} {mark:7} {r.evidence_words:.2f}{' repeats' if r.repeats_first else ''}  {r.standalone!r}")
    totals = summary(results)
    print(json.dumps(totals))
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": totals, "results": [asdict(r) for r in results]},
                                             indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
