"""Any sentence-transformers model folder as an ``Embedder`` (the user's choice of model).

The packaged MiniLM keeps its own fast path (``index.minilm``: no sentence-transformers import);
any other model runs through sentence-transformers itself, loaded from its folder on first use
(``local_files_only``: nothing is downloaded). Questions and passages get the model's prefixes
(``index.models.prompts``).

Sentence vectors (pooled spans, ``index.sentence_store``) are made for mean-pooled models only
(Transformer, mean Pooling, Normalize: ``SpanSentenceTransformerEmbedder``): there a span's mean
token vector lives in the space of the text vectors. Any other model (CLS pooling, a Dense layer)
has no ``embed_spans``, so ingest drops the sentence collection and the extractive answerer embeds
its passages' sentences at question time (README "Models and the offline rule").
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from index.errors import UsageError
from index.minilm import token_ranges
from index.models import ModelInfo


@functools.cache
def _tokenizer(folder: str) -> Any:
    """The model's fast tokenizer without special tokens, truncation or padding (for counting)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@functools.cache
def _window_tokenizer(folder: str, max_tokens: int) -> Any:
    """The model's tokenizer as the model sees text: special tokens, cut to its window."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


class SentenceTransformerEmbedder:
    """A sentence-transformers model folder, normalised vectors, on CPU in float32 or bfloat16.

    >>> e = SentenceTransformerEmbedder(model_info("/models/e5-small-v2"))  # doctest: +SKIP
    >>> e.embed(["passage text"]).shape, e.embed_query(["a question"]).shape  # doctest: +SKIP
    ((1, 384), (1, 384))
    """

    def __init__(self, info: ModelInfo, batch_size: int = 64, precision: str = "auto") -> None:
        self.info = info
        self.name = info.name
        self.dimension = info.dimension
        self.model_path = info.folder
        self.batch_size = batch_size
        self._precision = precision
        self._model: Any = None
        self._lock = threading.Lock()
        # The passage prefix is embedded with every chunk: it takes its word pieces from the window.
        self.window = info.max_tokens - (self.count_tokens(info.passage_prefix) if info.passage_prefix else 0)

    @property
    def fingerprint(self) -> str:
        return self.info.fingerprint

    @property
    def precision(self) -> str:
        from index.embedding import resolve_precision

        if self._precision == "auto":
            self._precision = resolve_precision("auto")
        return self._precision

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` without special tokens, from the model's own tokenizer."""
        return len(_tokenizer(str(self.model_path)).encode(text, add_special_tokens=False).ids)

    def token_offsets(self, text: str) -> tuple[list[tuple[int, int]], list[int | None]]:
        encoding = _tokenizer(str(self.model_path)).encode(text, add_special_tokens=False)
        return encoding.offsets, encoding.word_ids

    def load(self) -> Any:
        """Load the model now (idempotent, thread-safe)."""
        with self._lock:
            if self._model is None:
                from index.embedding import import_torch

                torch = import_torch()
                from sentence_transformers import SentenceTransformer

                try:
                    model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
                except Exception as exc:  # a damaged or partial folder: one sentence, not a traceback
                    raise UsageError(f"cannot load the embedding model in {self.model_path} ({type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}); copy the whole model "
                                     "folder again") from None
                if self.precision == "bfloat16":
                    model = model.to(torch.bfloat16)
                self._model = model
            return self._model

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.load().encode(list(texts), prompt=prefix or None, batch_size=self.batch_size,
                                     normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passages (and the answerer's sentences), with the model's passage prefix."""
        return self._encode(texts, self.info.passage_prefix)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Questions, with the model's query prefix."""
        return self._encode(texts, self.info.query_prefix)


class SpanSentenceTransformerEmbedder(SentenceTransformerEmbedder):
    """A mean-pooled model that also pools spans of each text from the same pass (late chunking)."""

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``embed(texts)`` and a unit vector per character span: the mean of the token vectors of
        the word pieces inside it (a span with none inside the window gets its text's vector)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        prefix = self.info.passage_prefix
        full = [prefix + t for t in texts]
        tokens = self.load().encode(full, output_value="token_embeddings", batch_size=self.batch_size,
                                    convert_to_numpy=False)
        encodings = _window_tokenizer(str(self.model_path), self.info.max_tokens).encode_batch(full)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[np.ndarray] = []
        for i, (emb, enc, text_spans) in enumerate(zip(tokens, encodings, spans, strict=True)):
            x = emb.float().numpy()
            if len(x) != len(enc.ids):  # sentence-transformers tokenized otherwise: no sound span
                raise RuntimeError(f"{self.name}: {len(x)} token vectors for {len(enc.ids)} word pieces")
            out[i] = x.mean(axis=0)
            ranges = token_ranges(enc.offsets, enc.special_tokens_mask,
                                  [(s + len(prefix), e + len(prefix)) for s, e in text_spans])
            rows = [x[a:b].mean(axis=0) if b > a else out[i] for a, b in ranges]
            pooled.append(_unit(np.stack(rows)).astype(np.float32) if rows
                          else np.zeros((0, self.dimension), dtype=np.float32))
        return _unit(out).astype(np.float32), pooled
