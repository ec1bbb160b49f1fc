"""Run an eval: index the documents, ask every question through ``Assistant.ask``, score the answers.

The index is the eval's own (``--index`` or a cache folder keyed by the docs path), never the
user's main index, and ingest is idempotent, so a second run over unchanged documents only asks.

>>> from evals.dataset import load_dataset
>>> run = run_eval(load_dataset("evals/datasets/examples.jsonl"), "examples")  # doctest: +SKIP
>>> run.summary["hit_at_k"], run.calibration.threshold                           # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from evals.alce import judge_citations
from evals.calibrate import Calibration, ScoredCase, calibrate
from evals.claims import UNAVAILABLE, ClaimJudge, claim_faithfulness
from evals.dataset import DatasetError, EvalCase
from evals.metrics import letters_and_digits
from evals.scoring import CaseResult, score_case, summarise
from rag.assistant import Assistant
from rag.documents import Chunk
from rag.errors import UsageError
from rag.ingest_bar import IngestBar
from rag.protocols import Embedder
from rag.records import Answer
from rag.settings import Settings

DEEP_K = 50
"""How far down the ranking a retrieval miss is looked for, to say where the evidence went."""


@dataclass
class EvalRun:
    """The outcome of one eval run: summary, every case, the refusal calibration, and context."""

    summary: dict[str, Any]
    cases: list[CaseResult]
    calibration: Calibration
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The content of ``results.json``."""
        return {"summary": self.summary, "calibration": self.calibration.to_dict(), "meta": self.meta,
                "cases": [c.to_dict() for c in self.cases]}


def default_index_dir(docs: str | Path) -> Path:
    """A cache folder for the eval index of ``docs``, keyed by its absolute path.

    >>> default_index_dir("/data/manuals").name.startswith("manuals-")
    True
    """
    resolved = Path(docs).expanduser().resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha1(str(resolved).encode("utf-8")).hexdigest()[:12]
    return cache / "rag" / "eval-index" / f"{resolved.name or 'root'}-{key}"


def open_eval_assistant(docs: str | Path, index_dir: str | Path | None = None, settings: Settings | None = None,
                        embedder: Embedder | None = None) -> Assistant:
    """An Assistant on the eval's own embedded index (a configured Chroma server is not used)."""
    base = settings or Settings.load()
    folder = Path(index_dir) if index_dir else default_index_dir(docs)
    # The store makes the folder, and says in one sentence why it cannot (a file there, /proc, no permission).
    eval_settings = dataclasses.replace(base, index_dir=folder, chroma_url=None)
    return Assistant(settings=eval_settings, embedder=embedder)


@dataclass(frozen=True)
class _IndexedText:
    """Every indexed chunk with its text in the form evidence is matched in, computed once per run."""

    chunks: tuple[Chunk, ...]
    texts: tuple[str, ...]

    @classmethod
    def of(cls, assistant: Assistant) -> _IndexedText:
        chunks = tuple(assistant.chunks())
        return cls(chunks, tuple(letters_and_digits(c.text) for c in chunks))

    def holding(self, span: str) -> list[Chunk]:
        needle = letters_and_digits(span)
        return [c for c, text in zip(self.chunks, self.texts, strict=True) if needle and needle in text]


def file_names(docs: Path) -> frozenset[str]:
    """What a case's ``source`` may say: a file's path relative to ``docs``, or its bare name (a file
    in a subfolder is still "under the docs folder").

    >>> import tempfile; folder = Path(tempfile.mkdtemp()); (folder / "handbook").mkdir()
    >>> _ = (folder / "handbook" / "apt.html").write_text("x")
    >>> sorted(file_names(folder))
    ['apt.html', 'handbook/apt.html']
    """
    files = [p for p in docs.rglob("*") if p.is_file()] if docs.is_dir() else [docs]
    return frozenset({p.name for p in files} | {p.relative_to(docs).as_posix() for p in files if p != docs})


def _evidence_notes(case: EvalCase, index: _IndexedText, docs: Path,
                    names: frozenset[str]) -> tuple[list[str], list[str]]:
    """The ids of the indexed chunks that hold the evidence, and notes on spans that no chunk holds."""
    holders: dict[str, Chunk] = {}
    notes: list[str] = []
    if case.source and case.source not in names and not (docs / case.source).exists():
        notes.append(f"source file {case.source!r} is not under {docs}: give the name of a file there")
    for span in case.evidence:
        found = index.holding(span)
        holders.update((c.chunk_id, c) for c in found)
        if not found:
            notes.append(_missing_span_note(span, index.chunks))
    return sorted(holders), notes


def _missing_span_note(span: str, chunks: Sequence[Chunk]) -> str:
    """Why a span is in no chunk: split across two neighbouring chunks, or not in the extracted text."""
    by_source: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_source.setdefault(c.source, []).append(c)
    needle = letters_and_digits(span)
    for source, items in by_source.items():
        items.sort(key=lambda c: c.index)
        for a, b in itertools.pairwise(items):
            if needle in letters_and_digits(a.text + " " + b.text):
                return (f"evidence span {span[:60]!r} is split across chunks {a.index} and {b.index} of "
                        f"{Path(source).name}: no single passage can be retrieved for it")
    return (f"evidence span {span[:60]!r} is in no indexed chunk: compare it with the text the loader "
            f"extracts from the case's source file")


def _locate_miss(assistant: Assistant, question: str, holding: Sequence[str]) -> str:
    """Where the chunk holding the evidence (``holding``: ids) ranks when retrieval looks deeper than
    k. Chunks are ranked unwidened: a widened passage read 50 deep joins more neighbours than one of
    the k the answer had, so "the passage ranks #1" would name a passage the answer never saw, under
    the id of the chunk found rather than the one holding the evidence."""
    if not holding:
        return f"the evidence is not in the fused top {DEEP_K} chunks (no single chunk holds it)"
    for hit in assistant.retrieve(question, k=DEEP_K, widen=0):
        if hit.chunk.chunk_id in holding:
            dense = f"dense #{hit.dense_rank}" if hit.dense_rank else "not in the dense top 50"
            keyword = f"keyword #{hit.keyword_rank}" if hit.keyword_rank else "not in the keyword top 50"
            return (f"the chunk holding the evidence ({Path(hit.chunk.source).name}, chunk {hit.chunk.index}) "
                    f"ranks #{hit.rank} of the chunks after fusion, before widening ({dense}, {keyword})")
    return f"the chunk holding the evidence is not in the fused top {DEEP_K} chunks"


def _progress(total: int, enabled: bool, stream: TextIO | None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="asking", unit="q", file=stream or sys.stderr, disable=not enabled,
                dynamic_ncols=True)


def run_eval(cases: Sequence[EvalCase], docs: str | Path, *, index_dir: str | Path | None = None,
             settings: Settings | None = None, k: int | None = None, embedder: Embedder | None = None,
             assistant: Assistant | None = None, progress: bool = False, progress_stream: TextIO | None = None,
             dataset: str = "", skipped: Sequence[DatasetError] = ()) -> EvalRun:
    """Index ``docs``, answer every case with ``Assistant.ask``, and score the answers; ``skipped``:
    the dataset's lines that could not be used, kept in ``meta`` so the results say what was left out."""
    docs_path = Path(docs).expanduser().resolve()
    if not docs_path.exists():
        raise UsageError(f"documents folder {docs} does not exist")
    started = time.perf_counter()
    assistant = assistant or open_eval_assistant(docs_path, index_dir, settings, embedder)
    k = k or assistant.settings.k
    # The bar of 'rag ingest', reading then embedding (a bar of files read closed before the embedding,
    # most of the time, began).
    bar = IngestBar(progress_stream or sys.stderr) if progress else None
    try:
        report = assistant.add(docs_path, prune=True, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    ingest_seconds = time.perf_counter() - started
    index = _IndexedText.of(assistant)
    names = file_names(docs_path)
    if not index.chunks:  # every question would be a "retrieval miss" that no setting can fix
        failed = report.files_failed
        why = f"; {len(failed)} file(s) failed, e.g. {Path(failed[0].path).name}: {failed[0].error}" if failed else ""
        raise UsageError(f"nothing under {docs} could be indexed{why}: give --docs the folder of your documents")
    assistant.warm_up()  # latency percentiles show the steady state, not the first model call

    results: list[CaseResult] = []
    answers: list[Answer] = []
    bar = _progress(len(cases), progress, progress_stream)
    try:
        for case in cases:
            answer = assistant.ask(case.question, k=k)
            holding, notes = _evidence_notes(case, index, docs_path, names)
            result = score_case(case, answer, k, len(holding), assistant.refusal_threshold,
                                judged=judge_citations(answer, assistant.judge), relevant_chunk_ids=holding,
                                claim_faithfulness=claim_faithfulness(answer, assistant.judge))
            result.dataset_problems.extend(notes)
            if result.metrics["hit_at_k"] == 0.0:
                result.notes.append(_locate_miss(assistant, answer.asked, holding))
            results.append(result)
            answers.append(answer)
            bar.update(1)
    finally:
        bar.close()

    judges = sorted({a.judge for a in answers if a.judge})
    backends = sorted({a.backend for a in answers if a.backend}) or [assistant.generator.name]
    summary = summarise(results, k, backend=", ".join(backends), judge=", ".join(judges) or assistant.judge.name)
    summary["refusal_threshold"] = assistant.refusal_threshold
    summary["n_skipped_lines"] = len(skipped)  # dataset lines not run: a run of fewer cases than the file has
    summary["n_dataset_problems"] = sum(bool(r.dataset_problems) for r in results)
    if not isinstance(assistant.judge, ClaimJudge):
        summary["claim_faithfulness_note"] = UNAVAILABLE
    calibration = calibrate([ScoredCase(r.id, r.answerable, r.top_dense) for r in results],
                            current_threshold=assistant.refusal_threshold)
    meta = {
        "dataset": dataset, "docs": str(docs_path), "index_dir": str(assistant.settings.index_dir),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 2), "ingest_seconds": round(ingest_seconds, 2),
        "ingest": report.to_dict(), "chunks_indexed": len(index.chunks),
        "skipped_lines": [{"line": e.line, "problem": e.problem} for e in skipped],
        "settings": {"k": k, "backend": assistant.settings.backend, "fusion": assistant.settings.fusion,
                     "widen": assistant.settings.widen, "strict": assistant.settings.strict,
                     "refusal_threshold": assistant.refusal_threshold},
    }
    return EvalRun(summary=summary, cases=results, calibration=calibration, meta=meta)
