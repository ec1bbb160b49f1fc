"""Embedding back ends to compare with PyTorch: MiniLM exported to ONNX (fp32, dynamic int8).

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, which pins
``transformers<4.58`` (we run 5.x), and ``backend="openvino"`` needs ``optimum-intel``, which
pulls another torch build; so the bench exports the model itself with ``torch.onnx`` (offline,
needs the ``onnx`` package), quantizes with ``onnxruntime.quantization`` and runs it with
onnxruntime: tokenizer, mean pooling and normalisation exactly as the sentence-transformers
pipeline of all-MiniLM-L6-v2 does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import DEFAULT_MODEL, MiniLMEmbedder, minilm_path

MAX_TOKENS = 256


def export_onnx(target: Path) -> Path:
    """Export MiniLM's transformer to ONNX (``last_hidden_state`` output) unless already there."""
    if target.exists():
        return target
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(minilm_path())).eval()

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    torch.onnx.export(Wrapper(), (ids, ids, torch.zeros_like(ids)), str(tmp),
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "last_hidden_state": axes},
                      opset_version=17, dynamo=False)
    tmp.rename(target)
    return target


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantization (weights int8 per channel, activations uint8 at run time)."""
    if target.exists():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(target.stem + ".tmp.onnx")
    quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    tmp.rename(target)
    return target


class OnnxMiniLM:
    """An ``Embedder`` (see ``index.embedding``) running MiniLM with onnxruntime.

    >>> e = OnnxMiniLM.build("onnx-int8", Path("/tmp/bench-work"))  # doctest: +SKIP
    >>> e.embed(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    name = DEFAULT_MODEL  # same model, so the store accepts it (int8 vectors differ slightly)
    dimension = 384

    def __init__(self, model_file: Path, batch_size: int = 64, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        self.batch_size = batch_size
        self._counter = MiniLMEmbedder()

    @classmethod
    def build(cls, kind: str, work: Path, batch_size: int = 64) -> OnnxMiniLM:
        """``onnx-fp32`` or ``onnx-int8``, exported into ``work`` on first use."""
        fp32 = export_onnx(work / "minilm.onnx")
        if kind == "onnx-fp32":
            return cls(fp32, batch_size)
        if kind == "onnx-int8":
            return cls(quantize_int8(fp32, work / "minilm-int8.onnx"), batch_size)
        raise ValueError(f"unknown embedder kind {kind!r}")

    def load(self) -> OnnxMiniLM:
        return self

    def count_tokens(self, text: str) -> int:
        return self._counter.count_tokens(text)

    def token_offsets(self, text: str) -> tuple[list[tuple[int, int]], list[int | None]]:
        return self._counter.token_offsets(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors; texts are sorted by length so batches pad little."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for i in range(0, len(texts), self.batch_size):
            idx = order[i:i + self.batch_size]
            encoded = self.tokenizer.encode_batch([texts[j] for j in idx])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def sample_texts(index_dir: str, limit: int) -> list[str]:
    """``embed_text`` of up to ``limit`` chunks spread evenly over an index."""
    from index.store import ChunkStore, chunk_from_record, make_client

    store = ChunkStore(make_client(index_dir), "docs", DEFAULT_MODEL, 384)
    texts = [chunk_from_record(cid, text, meta).embed_text for cid, text, meta in store.iter_records()]
    step = max(1, len(texts) // limit)
    return texts[::step][:limit]


def encode_speed(index_dir: str, work: str, limit: int = 400, rounds: int = 3,
                 torch_batches: Sequence[int] = (32, 64, 128),
                 onnx_kinds: Sequence[str] = ("onnx-fp32", "onnx-int8")) -> dict[str, Any]:
    """Seconds to encode sample chunks per back end and batch size, and cosine agreement with PyTorch.

    Variants run interleaved for ``rounds`` rounds (A B C … A B C …); ``min_s`` is the figure to
    compare on a shared machine (interference only ever adds time), ``median_s`` is given too.
    """
    import torch

    from bench.stats import median

    texts = sample_texts(index_dir, limit)
    model = MiniLMEmbedder(precision="float32").load()
    model.encode(texts[:8], batch_size=8)
    half = MiniLMEmbedder(precision="bfloat16")
    half.embed(texts[:8])
    default_threads = torch.get_num_threads()

    def torch_variant(bs: int, threads: int) -> Any:
        def run() -> np.ndarray:
            torch.set_num_threads(threads)
            try:
                return np.asarray(model.encode(texts, batch_size=bs))  # unit length already
            finally:
                torch.set_num_threads(default_threads)
        return run

    variants: dict[str, Any] = {f"torch bs{bs}": torch_variant(bs, default_threads) for bs in torch_batches}
    if default_threads != 1:
        variants["torch bs64 threads=1"] = torch_variant(64, 1)
    # bfloat16 is what ``precision="auto"`` picks on CPUs with AMX / AVX512-BF16 (emulated, slow, elsewhere).
    variants["torch bs64 bfloat16"] = lambda: half.embed(texts)
    out: dict[str, Any] = {"texts": len(texts), "rounds": rounds, "torch_threads": default_threads, "variants": {}}
    for kind in onnx_kinds:
        try:
            t = time.perf_counter()
            embedder = OnnxMiniLM.build(kind, Path(work))
            out["variants"][f"{kind} bs64"] = {"export_s": round(time.perf_counter() - t, 3)}
            embedder.embed(texts[:8])
            variants[f"{kind} bs64"] = lambda e=embedder: e.embed(texts)
        except Exception as exc:  # a missing optional package is a finding, not a crash
            out["variants"][kind] = {"error": f"{type(exc).__name__}: {exc}"}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, run in variants.items():
            t = time.perf_counter()
            vectors[name] = run()
            seconds[name].append(time.perf_counter() - t)
    reference = vectors[f"torch bs{torch_batches[0]}"]
    for name, times in seconds.items():
        cosine = (vectors[name] * reference).sum(axis=1)
        out["variants"].setdefault(name, {}).update(
            min_s=round(min(times), 3), median_s=round(median(times) or 0, 3), seconds=round(min(times), 3),
            cosine_vs_torch_mean=round(float(cosine.mean()), 4), cosine_vs_torch_min=round(float(cosine.min()), 4))
    return out


def query_speed(questions: list[dict[str, str]], work: str, rounds: int = 3) -> dict[str, Any]:
    """Latency of embedding one question at a time (what retrieval pays), by back end and threads."""
    import torch

    from evals.metrics import percentile

    texts = [q["question"] for q in questions] * rounds
    model = MiniLMEmbedder().load()
    out: dict[str, Any] = {"queries": len(texts)}

    def measure(name: str, embed: Any) -> None:
        embed(texts[:3])
        ms = []
        for text in texts:
            t = time.perf_counter()
            embed([text])
            ms.append((time.perf_counter() - t) * 1000)
        out[name] = {"p50_ms": round(percentile(ms, 50) or 0, 2), "p95_ms": round(percentile(ms, 95) or 0, 2)}

    default_threads = torch.get_num_threads()
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        measure(f"torch threads={threads}", lambda t: model.encode(t))
    torch.set_num_threads(default_threads)
    for kind in ("onnx-fp32", "onnx-int8"):
        try:
            fp32 = export_onnx(Path(work) / "minilm.onnx")
            file = fp32 if kind == "onnx-fp32" else quantize_int8(fp32, Path(work) / "minilm-int8.onnx")
        except Exception as exc:
            out[kind] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        for threads in (default_threads, 1):
            measure(f"{kind} threads={threads}", OnnxMiniLM(file, threads=threads).embed)
    return out
