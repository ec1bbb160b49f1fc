"""Our side of the bench: ingest with a per-stage profile, the encode floor, re-ingest, queries.

Each function runs inside a ``bench.tasks`` subprocess and returns plain JSON values.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bench.corpus import Question
from bench.stats import rnd
from evals.metrics import percentile

F = TypeVar("F", bound=Callable[..., Any])


class StageTimer:
    """Accumulates wall time per named stage around wrapped callables.

    >>> timer = StageTimer()
    >>> double = timer.wrap("double", lambda x: 2 * x)
    >>> double(2), timer.calls["double"]
    (4, 1)
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, stage: str, fn: F) -> F:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started
                self.calls[stage] += 1

        return timed  # type: ignore[return-value]

    def to_dict(self) -> dict[str, dict[str, float | int]]:
        return {k: {"seconds": round(v, 3), "calls": self.calls[k]} for k, v in self.seconds.items()}


def _assistant(index_dir: str, embedder: Any = None) -> Any:
    from rag.assistant import Assistant
    from rag.settings import Settings

    return Assistant(index_dir=index_dir, settings=Settings.load(env={}),
                     embedder=embedder)


def make_embedder(kind: str, work: str) -> Any:
    """``torch`` (the default MiniLMEmbedder), ``torch-float32`` / ``torch-bfloat16`` / ``torch-int8``
    (``MiniLMEmbedder`` at a forced precision; int8 runs on ONNX Runtime) or an ONNX variant from
    ``bench.embedders``."""
    if kind == "torch":
        return None
    if kind.startswith("torch-"):
        from index.embedding import MiniLMEmbedder

        return MiniLMEmbedder(precision=kind.removeprefix("torch-"))
    from bench.embedders import OnnxMiniLM

    return OnnxMiniLM.build(kind, Path(work))


def ingest(files: Sequence[str], index_dir: str, embedder_kind: str = "torch", work: str = "",
           floor: bool = True, overlap: int | None = None) -> dict[str, Any]:
    """First ingest with the model preloaded, profiled by stage; then the encode floor."""
    t = time.perf_counter()
    a = _assistant(index_dir, make_embedder(embedder_kind, work))
    assistant_s = time.perf_counter() - t
    t = time.perf_counter()
    a.embedder.load()
    load_s = time.perf_counter() - t

    # The stages come from IngestReport.stages; only our own embedder object is wrapped, to keep
    # the texts it embedded (for the encode floor) and to time token counting inside chunking.
    timer = StageTimer()
    embedded: list[str] = []
    embed = a.embedder.embed

    def recording_embed(texts: Sequence[str]) -> Any:
        embedded.extend(texts)
        return embed(texts)

    a.embedder.count_tokens = timer.wrap("  of which token counting", a.embedder.count_tokens)
    if hasattr(a.embedder, "token_offsets"):
        a.embedder.token_offsets = timer.wrap("  of which token counting", a.embedder.token_offsets)
    a.embedder.embed = recording_embed
    if hasattr(a.embedder, "embed_spans"):  # ingest embeds chunks and pools their sentences in one call
        embed_spans = a.embedder.embed_spans

        def recording_spans(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> Any:
            embedded.extend(texts)
            return embed_spans(texts, spans)

        a.embedder.embed_spans = recording_spans
    t = time.perf_counter()
    if overlap is None:
        report = a.add(list(files))
    else:
        from index.chunking import ChunkingConfig
        from index.ingest import ingest as run_ingest

        report = run_ingest(a.store, a.embedder, list(files), chunking=ChunkingConfig(overlap_tokens=overlap))
        with report.timing("keyword index"):
            a.retriever.keyword.refresh()
    ingest_s = time.perf_counter() - t
    stages: dict[str, Any] = {name: {"seconds": round(seconds, 3)} for name, seconds in report.stages.items()}
    stages.update(timer.to_dict())
    # Writes run beside the next batch's embedding (index.ingest._Writer), so the stages can add up
    # to more than the wall time; "other" is then 0.
    stages["other"] = {"seconds": round(max(0.0, ingest_s - sum(report.stages.values())), 3)}
    out: dict[str, Any] = {
        "ingest_s": round(ingest_s, 3), "model_load_s": round(load_s, 3), "assistant_s": round(assistant_s, 3),
        "files": report.files_added, "failed": len(report.files_failed), "chunks": report.chunks_total,
        "tokens_embedded": report.tokens_embedded, "texts_embedded": len(embedded), "stages": stages,
        "embed_batch": getattr(a.embedder, "batch_size", None),
        "embed_precision": getattr(a.embedder, "precision", embedder_kind),
    }
    out["peak_rss_mb"] = _peak_rss_mb()
    # IngestReport.tokens_embedded counts chunk text only; the model also reads the heading prefix.
    counts = [a.embedder.count_tokens(t) for t in embedded]
    out["embed_text_tokens"] = sum(min(n, 254) for n in counts)
    if floor and embedded:
        # The floor is measured by ``encode_floor`` in a fresh process, cold like this ingest (the
        # same encode repeated here, after the ingest, was 9% faster on warm kernels).
        texts_file = Path(index_dir).with_name(Path(index_dir).name + "-embedded.json")
        texts_file.write_text(json.dumps(embedded), encoding="utf-8")
        out["embedded_texts_file"] = str(texts_file)
    return out


def encode_floor(texts_file: str, embedder_kind: str = "torch", work: str = "") -> dict[str, Any]:
    """The floor: the model, loaded in a fresh process, encoding exactly the texts our ingest embedded.

    One call (the embedder sorts it by length), our batch size and precision; no reading,
    chunking or storing. The model is loaded before the clock starts, as for the ingest.
    """
    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    embedder = make_embedder(embedder_kind, work)
    if embedder is None:
        from index.embedding import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    embedder.load()
    t = time.perf_counter()
    embedder.embed(texts)
    return {"floor_s": round(time.perf_counter() - t, 3), "texts": len(texts),
            "precision": getattr(embedder, "precision", embedder_kind), "peak_rss_mb": _peak_rss_mb()}


def reingest(files: Sequence[str], index_dir: str) -> dict[str, Any]:
    """Re-ingest of the unchanged corpus (the model is not preloaded: nothing should need it)."""
    a = _assistant(index_dir)
    t = time.perf_counter()
    report = a.add(list(files))
    seconds = time.perf_counter() - t
    return {"reingest_s": round(seconds, 3), "files_unchanged": report.files_unchanged,
            "chunks_added": report.chunks_added, "model_loaded": getattr(a.embedder, "_model", None) is not None}


def _set_torch_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def query(index_dir: str, questions: list[dict[str, str]], answer: bool = True, rounds: int = 1,
          embedder_kind: str = "torch", work: str = "", torch_threads: int | None = None) -> dict[str, Any]:
    """hit@5 and retrieval latency on the bench questions; extractive ``ask`` latency.

    Also counts, per ``ask``, the texts sent to the embedder and how many of them it had already
    embedded during that same ``ask`` (re-embedding that a cache would save).
    """
    qs = [Question(**q) for q in questions]
    a = _assistant(index_dir, make_embedder(embedder_kind, work))
    _set_torch_threads(torch_threads)
    a.embedder.load()
    t = time.perf_counter()
    a.warm_up()  # the keyword index, loaded or built
    warm_s = time.perf_counter() - t
    retrieve_ms: list[float] = []
    ranks: dict[str, int] = {}
    for _ in range(rounds):
        for q in qs:
            t = time.perf_counter()
            got = a.retrieve(q.question, k=5)
            retrieve_ms.append((time.perf_counter() - t) * 1000)
            ranks[q.id] = first_rank([q.hit(h.chunk.source) for h in got])
    hits = {qid: rank > 0 for qid, rank in ranks.items()}
    out: dict[str, Any] = {"chunks": a.store.count(), "first_retrieve_s": round(warm_s, 3),
                           "hit_at_5": rnd(sum(hits.values()) / len(hits)), "hits": hits, **rank_metrics(ranks),
                           "retrieval_p50_ms": rnd(percentile(retrieve_ms, 50), 1),
                           "retrieval_p95_ms": rnd(percentile(retrieve_ms, 95), 1),
                           "gomp_spincount": os.environ.get("GOMP_SPINCOUNT")}
    if answer:
        a.ask(qs[0].question)
        answer_ms: list[float] = []
        split: dict[str, float] = defaultdict(float)
        refused = 0
        seen: list[str] = []
        embed = a.embedder.embed

        def counting_embed(texts: Sequence[str]) -> Any:
            seen.extend(texts)
            return embed(texts)

        a.embedder.embed = counting_embed
        texts = repeats = 0
        for q in qs:
            seen.clear()
            t = time.perf_counter()
            ans = a.ask(q.question)
            answer_ms.append((time.perf_counter() - t) * 1000)
            refused += ans.refused
            texts += len(seen)
            repeats += len(seen) - len(set(seen))
            for stage, seconds in ans.timings.items():
                split[stage] += seconds * 1000 / len(qs)
        out.update(answer_p50_ms=rnd(percentile(answer_ms, 50), 1), answer_p95_ms=rnd(percentile(answer_ms, 95), 1),
                   answer_mean_split_ms={k: round(v, 1) for k, v in split.items()}, answers_refused=refused,
                   answers=len(qs), answer_embed_texts_per_ask=round(texts / len(qs), 1),
                   answer_embed_repeats_per_ask=round(repeats / len(qs), 1))
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def ask_during_upload(index_dir: str, files: Sequence[str], questions: list[dict[str, str]], work: str
                      ) -> dict[str, Any]:
    """Extractive answers in one thread while the same process indexes ``files`` into another
    collection of the index, as ``rag ui`` and ``rag serve`` index an upload beside other people's
    questions (``index.questions_first``). Latency of the answers alone and during the upload, and
    the upload's time alone and with the questions beside it, on a copy of ``index_dir``."""
    import shutil
    import threading

    from rag.assistant import Assistant
    from rag.settings import Settings

    copy = Path(work) / "upload-index"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(index_dir, copy)
    qs = [Question(**q).question for q in questions]
    asker = _assistant(str(copy))
    asker.warm_up()

    def answers(until: Callable[[], bool], rounds: int) -> list[float]:
        ms: list[float] = []
        while len(ms) < rounds * len(qs) or not until():
            t = time.perf_counter()
            asker.ask(qs[len(ms) % len(qs)])
            ms.append((time.perf_counter() - t) * 1000)
        return ms

    def upload(collection: str) -> tuple[float, int]:
        """Seconds the upload into ``collection`` took, and the chunks it added."""
        uploader = Assistant(index_dir=str(copy), settings=Settings.load(env={}, collection=collection),
                             embedder=asker.embedder)
        t = time.perf_counter()
        report = uploader.add(list(files))
        if report.files_failed:
            raise RuntimeError(f"the upload failed on {report.files_failed[0]}")
        return time.perf_counter() - t, report.chunks_added

    alone = answers(lambda: True, rounds=2)
    upload_alone_s, chunks = upload("upload-alone")
    done = threading.Event()
    during: list[float] = []
    asking = threading.Thread(target=lambda: during.extend(answers(done.is_set, rounds=1)))
    asking.start()
    try:
        upload_asked_s, _ = upload("upload-asked")
    finally:
        done.set()
        asking.join()
    shutil.rmtree(copy, ignore_errors=True)

    def stats(ms: list[float]) -> dict[str, Any]:
        return {"n": len(ms), "p50_ms": rnd(percentile(ms, 50), 1), "p95_ms": rnd(percentile(ms, 95), 1),
                "max_ms": rnd(max(ms), 1)}

    return {"files": len(files), "chunks": chunks, "alone": stats(alone), "during_upload": stats(during),
            "upload_alone_s": rnd(upload_alone_s, 2), "upload_with_answers_s": rnd(upload_asked_s, 2)}


def examples_hit(index_dir: str, dataset: str, docs: str, embedder_kind: str = "torch", work: str = "",
                 overlap: int | None = None) -> dict[str, Any]:
    """hit@5 over ``examples/``: relevant = a retrieved chunk containing an evidence span (normalised)."""
    from evals.dataset import load_dataset
    from evals.metrics import contains_span

    a = _assistant(index_dir, make_embedder(embedder_kind, work))
    if overlap is not None:
        from index.chunking import ChunkingConfig
        from index.ingest import ingest as run_ingest

        run_ingest(a.store, a.embedder, [docs], chunking=ChunkingConfig(overlap_tokens=overlap))
        a.retriever.keyword.refresh()
    else:
        a.add(docs)
    cases = [c for c in load_dataset(dataset) if c.answerable and c.evidence]
    ranks = {c.id: first_rank([contains_span(h.chunk.text, c.evidence) for h in a.retrieve(c.question, k=5)])
             for c in cases}
    hits = {cid: rank > 0 for cid, rank in ranks.items()}
    return {"examples_hit_at_5": rnd(sum(hits.values()) / len(hits)), "cases": len(cases), "hits": hits,
            **{f"examples_{k}": v for k, v in rank_metrics(ranks).items()}}


def first_rank(relevant: Sequence[bool]) -> int:
    """1-based rank of the first relevant passage, 0 when none is.

    >>> first_rank([False, True, True]), first_rank([False])
    (2, 0)
    """
    return next((i for i, r in enumerate(relevant, 1) if r), 0)


def rank_metrics(ranks: dict[str, int]) -> dict[str, float | None]:
    """hit@1 and MRR@5 from first-relevant ranks (hit@5 alone saturates on easy sets).

    >>> rank_metrics({"a": 1, "b": 2, "c": 0})
    {'hit_at_1': 0.333, 'mrr_at_5': 0.5}
    """
    n = len(ranks) or 1
    return {"hit_at_1": rnd(sum(r == 1 for r in ranks.values()) / n),
            "mrr_at_5": rnd(sum(1 / r for r in ranks.values() if r) / n)}


def synth_build(source_index: str, index_dir: str, target: int, jitter: float = 0.015, seed: int = 0
                ) -> dict[str, Any]:
    """A collection of ``target`` chunks: the real ones, then copies with jittered vectors.

    Copies get their own ids and ``source`` (``path~n``) so every copy is a separate file to
    the store, the keyword index and neighbour widening.
    """
    import dataclasses

    import numpy as np

    from index.store import FileWrite

    src = _assistant(source_index).store
    chunks = list(src.iter_chunks())
    stored = src.vectors([c.chunk_id for c in chunks])
    vecs = np.stack([stored[c.chunk_id] for c in chunks])
    hashes = {source: src.file_state(source).content_hash or "" for source in {c.source for c in chunks}}
    dest = _assistant(index_dir).store
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    written = 0
    copy = 0
    while written < target:
        n = min(len(chunks), target - written)
        v = vecs[:n]
        if copy:
            v = v + rng.normal(0.0, jitter, v.shape).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
        suffix = f"~{copy}" if copy else ""
        by_source: dict[str, list[tuple[Any, np.ndarray]]] = {}
        for chunk, vector in zip(chunks[:n], v, strict=True):
            twin = dataclasses.replace(chunk, chunk_id=f"{chunk.chunk_id}{suffix}", source=f"{chunk.source}{suffix}",
                                       doc_id=f"{chunk.doc_id}{suffix}")
            by_source.setdefault(chunk.source, []).append((twin, vector))
        dest.write_files([FileWrite([c for c, _ in pairs], {c.chunk_id: vec for c, vec in pairs}, hashes[source],
                                    Path(source).name, ()) for source, pairs in by_source.items()])
        written += n
        copy += 1
    _copy_sentences(_assistant(source_index).sentences, _assistant(index_dir).sentences, [c.chunk_id for c in chunks],
                    target, jitter, rng)
    seconds = time.perf_counter() - t
    return {"chunks": dest.count(), "real_chunks": len(chunks), "copies": copy, "insert_s": round(seconds, 3),
            "insert_per_s": round(written / seconds, 1), "peak_rss_mb": _peak_rss_mb()}


def _copy_sentences(source: Any, dest: Any, chunk_ids: list[str], target_chunks: int, jitter: float,
                    rng: Any) -> None:
    """The sentence vectors of the copied chunks, copied the same way (jittered, renamed), so
    retrieval at scale queries them as a real index of that size would."""
    import dataclasses

    import numpy as np

    rows = list(source.rows())
    if not rows:
        return
    for copy, first in enumerate(range(0, target_chunks, len(chunk_ids))):
        suffix = f"~{copy}" if copy else ""
        copied = set(chunk_ids[:min(len(chunk_ids), target_chunks - first)])
        out = []
        for row in (r for r in rows if r.chunk_id in copied):
            vector = row.vector
            if copy:
                vector = vector + rng.normal(0.0, jitter, vector.shape).astype(np.float32)
                vector /= np.linalg.norm(vector)
            out.append(dataclasses.replace(row, chunk_id=f"{row.chunk_id}{suffix}", source=f"{row.source}{suffix}",
                                           vector=vector))
        dest.write(out)
    dest.mark_complete()


def latency(index_dir: str, questions: list[dict[str, str]], rounds: int = 2, torch_threads: int | None = None
            ) -> dict[str, Any]:
    """Retrieval latency (query embedding included) with a per-stage split, after a warm-up."""
    qs = [Question(**q) for q in questions]
    a = _assistant(index_dir)
    _set_torch_threads(torch_threads)
    a.embedder.load()
    t = time.perf_counter()
    a.warm_up()  # the keyword index, loaded or built
    first_s = time.perf_counter() - t
    rss_after_build = _peak_rss_mb()
    timer = StageTimer()
    r = a.retriever
    r.embedder.embed = timer.wrap("embed query", r.embedder.embed)
    r.store.query = timer.wrap("dense (Chroma)", r.store.query)
    r.keyword.search = timer.wrap("keyword (BM25, incl. freshness check)", r.keyword.search)
    ms: list[float] = []
    for _ in range(rounds):
        for q in qs:
            t = time.perf_counter()
            a.retrieve(q.question, k=5)
            ms.append((time.perf_counter() - t) * 1000)
    split = {k: round(v / len(ms) * 1000, 2) for k, v in timer.seconds.items()}
    # What the next process pays instead of the build: loading the index saved beside the store.
    from rag.retrieve.keyword import KeywordIndex

    fresh = KeywordIndex(a.store)
    t = time.perf_counter()
    fresh.refresh()
    keyword_load_s = time.perf_counter() - t
    return {"chunks": a.store.count(), "first_retrieve_s": round(first_s, 3), "queries": len(ms),
            "keyword_load_s": round(keyword_load_s, 3), "keyword_loaded_from_file": fresh.loaded_from_file,
            "p50_ms": rnd(percentile(ms, 50), 1), "p95_ms": rnd(percentile(ms, 95), 1), "mean_split_ms": split,
            "rss_after_keyword_build_mb": rss_after_build, "peak_rss_mb": _peak_rss_mb()}


def cold_ask(index_dir: str, question: str, runs: int = 3) -> dict[str, Any]:
    """Wall time of one-off ``rag ask`` processes on an existing index (imports, model load, answer).

    The index is the examples index with its keyword index saved, as after ``rag ingest``; the
    first run also warms the OS file cache (torch's libraries), as any earlier command would.
    """
    import subprocess
    import sys

    rag = Path(sys.executable).with_name("rag")
    command = [str(rag)] if rag.exists() else [sys.executable, "-m", "rag.cli"]
    seconds: list[float] = []
    answer = ""
    for _ in range(runs + 1):
        t = time.perf_counter()
        proc = subprocess.run([*command, "ask", question, "--index", index_dir, "--json"], capture_output=True,
                              text=True, timeout=300, check=False)
        seconds.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise RuntimeError(f"rag ask failed: {proc.stderr.strip()[-500:]}")
        answer = json.loads(proc.stdout)["text"]
    measured = seconds[1:]
    return {"cold_ask_s": rnd(percentile(measured, 50), 3), "cold_ask_max_s": rnd(max(measured), 3),
            "cold_ask_first_s": rnd(seconds[0], 3), "runs": len(measured), "question": question,
            "answer": answer[:200]}


def gguf_ttft(index_dir: str, questions: list[dict[str, str]], gguf_path: str) -> dict[str, Any]:
    """Time to the first streamed piece with the GGUF backend (model loaded beforehand)."""
    from rag.assistant import Assistant
    from rag.settings import Settings

    a = Assistant(index_dir=index_dir, settings=Settings.load(env={}, backend="gguf",
                                                              gguf_path=gguf_path))
    qs = [Question(**q) for q in questions][:5]
    next(item for item in a.ask_stream(qs[0].question) if item)  # the model loaded and warm
    ms: list[float] = []
    for q in qs:
        t = time.perf_counter()
        for item in a.ask_stream(q.question):
            if isinstance(item, str) and item:  # "": the model is still reading the prompt
                ms.append((time.perf_counter() - t) * 1000)
                break
    return {"ttft_p50_ms": rnd(percentile(ms, 50), 1), "ttft_p95_ms": rnd(percentile(ms, 95), 1),
            "answered": len(ms), "asked": len(qs)}


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
