"""Eval datasets: JSONL files, one case a line, parsed with errors that name the line.

Question-answer cases (``rag eval``)::

    {"id": "ukr-01", "question": "What did Zelenskyy reject?", "answer": "Ceding territory.",
     "evidence": ["Zelenskyy refused to give up any Ukrainian land"], "source": "talks.md"}
    {"id": "none-01", "question": "What is the capital of Canada?", "answerable": false}

``answer`` (the reference) and ``source`` (a file name under the docs folder) are optional,
``answerable`` defaults to true, ``evidence`` lists verbatim spans of the documents that contain
the answer (empty or absent for an unanswerable case). Other keys are kept in ``extra``.

Judge cases (``rag eval-judge``): ``id``, ``sentence``, ``passage``, ``supported`` (bool), an
optional ``kind`` (what was changed to make a negative: ``changed_number``, ``negation``, ...) and
an optional ``split``: ``dev`` (the default; pairs the judge's rules and thresholds may be tuned on)
or ``heldout`` (pairs written before the judge was changed and never used to tune it; the figure
``rag eval-judge`` reports first).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from rag.errors import UsageError


class DatasetError(UsageError):
    """A dataset line that cannot be used; the message names the file, the line and the problem.

    >>> str(DatasetError("qa.jsonl", 3, "'question' is missing"))
    "qa.jsonl line 3: 'question' is missing"
    """

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        where = f"{Path(path).name} line {line}" if line else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class EvalCase:
    """One question with what a correct answer must rest on."""

    id: str
    question: str
    evidence: tuple[str, ...] = ()
    answer: str | None = None
    source: str | None = None
    answerable: bool = True
    line: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeCase:
    """A sentence, a passage, and whether the passage supports the sentence (labelled by hand)."""

    id: str
    sentence: str
    passage: str
    supported: bool
    kind: str = "unlabelled"
    line: int = 0
    split: str = "dev"


JUDGE_SPLITS = ("dev", "heldout")
"""``dev``: tune on these; ``heldout``: only ever measured."""

_QA_KEYS = {"id", "question", "answer", "evidence", "source", "answerable"}
T = TypeVar("T")


def _type_name(value: object) -> str:
    return "null" if value is None else {dict: "object", list: "list", str: "string", bool: "bool"}.get(
        type(value), type(value).__name__)


def _text(row: dict[str, Any], key: str, required: bool) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if value is None:
        raise ValueError(f"'{key}' is missing")
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string, got {_type_name(value)}")
    if required and not value.strip():
        raise ValueError(f"'{key}' is empty")
    return value


def _bool(row: dict[str, Any], key: str, default: bool | None) -> bool:
    value = row.get(key, default)
    if not isinstance(value, bool):
        shown = json.dumps(value) if value is not None else "null"
        raise ValueError(f"'{key}' must be true or false, got {_type_name(value)} {shown}")
    return value


def parse_case(row: object, line: int = 0) -> EvalCase:
    """One decoded JSON line as an ``EvalCase``; ValueError says what is wrong."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {_type_name(row)}")
    case_id = row.get("id", f"line-{line}")
    if isinstance(case_id, bool) or not isinstance(case_id, str | int) or not str(case_id).strip():
        raise ValueError(f"'id' must be a non-empty string, got {_type_name(case_id)}")
    question = _text(row, "question", required=True)
    evidence = row.get("evidence", [])
    if evidence is None:
        evidence = []
    if not isinstance(evidence, list):
        raise ValueError(f"'evidence' must be a list of strings, got {_type_name(evidence)}")
    for i, span in enumerate(evidence):
        if not isinstance(span, str) or not span.strip():
            raise ValueError(f"'evidence' item {i} must be a non-empty string, got {_type_name(span)}")
    answerable = _bool(row, "answerable", True)
    if not answerable and evidence:
        raise ValueError("an unanswerable case ('answerable': false) cannot list evidence")
    assert question is not None
    return EvalCase(id=str(case_id), question=question, evidence=tuple(evidence), answer=_text(row, "answer", False),
                    source=_text(row, "source", False), answerable=answerable, line=line,
                    extra={k: v for k, v in row.items() if k not in _QA_KEYS})


def parse_judge_case(row: object, line: int = 0) -> JudgeCase:
    """One decoded JSON line of a judge dataset."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {_type_name(row)}")
    sentence = _text(row, "sentence", required=True)
    passage = _text(row, "passage", required=True)
    kind = _text(row, "kind", required=False) or "unlabelled"
    split = _text(row, "split", required=False) or "dev"
    if split not in JUDGE_SPLITS:
        raise ValueError(f"'split' must be one of {', '.join(JUDGE_SPLITS)}, got {split!r}")
    assert sentence is not None and passage is not None
    return JudgeCase(id=str(row.get("id", f"line-{line}")), sentence=sentence, passage=passage,
                     supported=_bool(row, "supported", None), kind=kind, line=line, split=split)


@dataclass(frozen=True)
class DatasetRead(Generic[T]):
    """What a dataset file held: the usable items, and one ``DatasetError`` per line that is not."""

    items: list[T]
    problems: list[DatasetError]


def _lines(path: Path) -> list[tuple[int, str | DatasetError]]:
    """Each line of ``path`` decoded on its own, so a byte that is not UTF-8 costs only its own line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(path, None, "no such file") from None
    except IsADirectoryError:
        raise DatasetError(path, None, "this is a folder; give the dataset's JSONL file") from None
    except OSError as exc:
        raise DatasetError(path, None, f"cannot read it ({exc.strerror or exc})") from None
    out: list[tuple[int, str | DatasetError]] = []
    for number, chunk in enumerate(raw.splitlines(), 1):
        try:  # an editor's byte-order mark opens the first line only
            out.append((number, chunk.decode("utf-8-sig" if number == 1 else "utf-8")))
        except UnicodeDecodeError as exc:
            out.append((number, DatasetError(path, number, f"not UTF-8 (byte 0x{chunk[exc.start]:02x} at column "
                                                           f"{exc.start + 1}); save the file as UTF-8")))
    return out


def read_jsonl(path: str | Path, parse: Callable[[object, int], T]) -> DatasetRead[T]:
    """Every line parsed; a bad line is kept as a problem naming it, and the lines after it still load."""
    path = Path(path)
    read: DatasetRead[T] = DatasetRead([], [])
    seen: dict[str, int] = {}
    for number, line in _lines(path):
        if isinstance(line, DatasetError):
            read.problems.append(line)
            continue
        if not line.strip():
            continue
        try:
            item = parse(json.loads(line), number)
        except json.JSONDecodeError as exc:
            read.problems.append(DatasetError(path, number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except ValueError as exc:
            read.problems.append(DatasetError(path, number, str(exc)))
            continue
        item_id = str(getattr(item, "id", ""))
        if item_id in seen:
            read.problems.append(DatasetError(path, number, f"duplicate id {item_id!r} (first used on line "
                                                            f"{seen[item_id]}); give each case its own id"))
            continue
        seen[item_id] = number
        read.items.append(item)
    if not read.items and not read.problems:
        raise DatasetError(path, None, "the dataset has no cases")
    return read


def _strict(read: DatasetRead[T]) -> list[T]:
    if read.problems:
        raise read.problems[0]
    return read.items


def read_dataset(path: str | Path) -> DatasetRead[EvalCase]:
    """A question-answer dataset's usable cases and its bad lines (``rag eval`` runs the former and
    reports the latter, as ``rag ingest`` indexes the files it can read)."""
    return read_jsonl(path, parse_case)


def read_judge_dataset(path: str | Path) -> DatasetRead[JudgeCase]:
    """A judge dataset's usable pairs and its bad lines."""
    return read_jsonl(path, parse_judge_case)


def load_dataset(path: str | Path) -> list[EvalCase]:
    """Parse a question-answer JSONL dataset.

    >>> cases = load_dataset("evals/datasets/examples.jsonl")  # doctest: +SKIP
    >>> cases[0].question, cases[0].evidence[0][:20]  # doctest: +SKIP
    ('What did Zelenskyy reject?', 'Zelenskyy refused to ')
    A bad line raises its ``DatasetError`` (the gate's bundled sets must load whole).
    """
    return _strict(read_dataset(path))


def load_judge_dataset(path: str | Path) -> list[JudgeCase]:
    """Parse a judge JSONL dataset (sentence, passage, supported, kind); a bad line raises."""
    return _strict(read_judge_dataset(path))
