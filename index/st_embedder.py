"""Any sentence-transformers model folder as an ``Embedder`` (the user's choice of model).

The packaged MiniLM keeps its own fast path (``index.minilm``: no sentence-transformers import);
any other model runs through sentence-transformers itself, loaded from its folder on first use
(``local_files_only``: nothing is downloaded). Questions and passages get the model's prefixes
(``index.models.prompts``). Sentence vectors (pooled spans) are not made for these models: they
have no ``embed_spans``, so ingest drops the sentence collection and the extractive answerer embeds
its passages' sentences at question time (README "Models and the offline rule").
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from index.models import ModelInfo


@functools.cache
def _tokenizer(folder: str) -> Any:
    """The model's fast tokenizer without special tokens, truncation or padding (for counting)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


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

                model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
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
