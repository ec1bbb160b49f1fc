"""Two-turn conversations: does the follow-up's answer hold its evidence?

A conversations file is JSONL, one a line: ``id``, ``turns`` (the first question, then the
follow-up), ``evidence`` (verbatim spans answering the follow-up) and an optional ``source``.
Each conversation is asked through ``Assistant.chat()``; the follow-up's answer holds the evidence
when it has at least ``EVIDENCE_ANSWERED`` of a span's content words, as ``rag eval`` counts it.
It also says whether the follow-up repeats a quote of the first answer. A bad line is named on
stderr and skipped (exit status 1), the rest still run; no file or no index is exit status 2::

    python -m evals.followups evals/datasets/followups.jsonl --index /tmp/followup-idx
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from evals.dataset import DatasetRead, read_jsonl
from evals.metrics import EVIDENCE_ANSWERED, evidence_word_share
from rag.assistant import Assistant
from rag.errors import RagError
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


def _strings(row: dict[str, object], key: str, at_least: int) -> tuple[str, ...]:
    value = row.get(key)
    if not isinstance(value, list) or len(value) < at_least or not all(isinstance(v, str) and v.strip()
                                                                       for v in value):
        raise ValueError(f"'{key}' must be a list of at least {at_least} non-empty strings")
    return tuple(value)


def parse_conversation(row: object, line: int = 0) -> Conversation:
    """One decoded JSON line as a ``Conversation``; ValueError says what is wrong."""
    if not isinstance(row, dict):
        raise ValueError("expected a JSON object")
    case_id = row.get("id", f"line-{line}")
    if isinstance(case_id, bool) or not isinstance(case_id, str | int) or not str(case_id).strip():
        raise ValueError("'id' must be a non-empty string")
    source = row.get("source", "")
    if not isinstance(source, str):
        raise ValueError("'source' must be a string")
    return Conversation(str(case_id), _strings(row, "turns", 2), _strings(row, "evidence", 1), source)


def read_conversations(path: str | Path) -> DatasetRead[Conversation]:
    """The conversations of a JSONL file, and a ``DatasetError`` per line that is not one (the rest still load)."""
    return read_jsonl(path, parse_conversation)


def load_conversations(path: str | Path) -> list[Conversation]:
    """The conversations of a JSONL file (each with at least two turns); a bad line raises its error."""
    read = read_conversations(path)
    if read.problems:
        raise read.problems[0]
    return read.items


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
        read = read_conversations(args.dataset)
        for problem in read.problems:
            print(f"skipped {problem}", file=sys.stderr)
        assistant = Assistant(args.index, create=False)
        results = [run_conversation(assistant, c) for c in read.items]
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
    return 1 if read.problems else 0


if __name__ == "__main__":
    sys.exit(main())
