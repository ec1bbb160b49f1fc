"""all-MiniLM-L6-v2 in int8 for CPUs without hardware bfloat16, run by ONNX Runtime.

The packaged weights are exported to ONNX and dynamically quantised (weights int8 per channel,
activations at run time) once, at first use, into a cache folder; nothing is downloaded. Tokens,
mean pooling and span pooling are ``index.minilm``'s, so the vectors are MiniLM's up to int8
rounding (cosine ~0.994 to float32: README "Speed"). On one thread it encodes ~1.7x faster than
float32 torch; where the CPU multiplies bfloat16 in hardware, torch in bfloat16 is faster still.

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, which pins an older
transformers than ours, hence the few lines of export here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import UsageError
from index.minilm import token_ranges, window_tokenizer
from index.models import weights_fingerprint

# Part of the cache file's name: bump it when the export or the quantisation changes, so an old
# file is never taken for the new one.
FORMAT = 1
INSTALL_HINT = "pip install 'rag[int8]'"


class Int8UnavailableError(UsageError):
    """The int8 precision needs a package that is not installed."""


def int8_available() -> bool:
    """Whether onnxruntime (to run) and onnx (to export, first use only) can be imported."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def model_cache_dir() -> Path:
    """Where converted models are kept: ``$XDG_CACHE_HOME/rag/models`` (``~/.cache`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag" / "models"


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise Int8UnavailableError(f"the int8 embedding precision needs the {module} package; install it with "
                                   f"{INSTALL_HINT} or choose RAG_EMBED_PRECISION=float32") from None


def int8_model_file(folder: Path, cache: Path | None = None) -> Path:
    """The int8 ONNX model of the MiniLM weights in ``folder``, made on first use.

    It is built in a private temporary folder beside its final place and then renamed into place
    (atomic on one filesystem): a crash leaves no half-written model, and processes converting at
    once each rename a whole file over the same name.
    """
    cache = cache or model_cache_dir()
    target = cache / f"minilm-{weights_fingerprint(str(folder))}-int8-v{FORMAT}.onnx"
    if target.is_file():
        return target
    _require("onnx")
    _require("onnxruntime")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".convert-") as work:
        fp32, int8 = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
        export_onnx(folder, fp32)
        quantize_int8(fp32, int8)
        os.replace(int8, target)
    return target


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's tracer warnings and the quantiser's advice (logged on the root logger) say
    nothing a user can act on."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def export_onnx(folder: Path, target: Path) -> None:
    """MiniLM's transformer as ONNX (``last_hidden_state``), traced from transformers' BERT (our
    torch MiniLM gives the same vectors: ``tests/integration/test_minilm.py``)."""
    from index.embedding import import_torch

    import_torch()  # with the OpenMP setting of question-serving processes, if it is the first
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    bar = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # "Loading weights" of a local folder: nothing to wait for
    try:
        model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    finally:
        if bar:
            transformers_logging.enable_progress_bar()

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with _quiet(), torch.inference_mode():
        torch.onnx.export(LastHidden(), (ids, ids, torch.zeros_like(ids)), str(target),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "last_hidden_state": axes},
                          opset_version=17, dynamo=False)


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation: weights int8 per output channel, activations uint8 at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


class OnnxMiniLM:
    """MiniLM's int8 ONNX model with ``index.minilm.MiniLM``'s ``encode`` and ``encode_spans``.

    Shared and thread-safe: onnxruntime sessions may run from several threads at once, and each
    call keeps its arrays to itself.

    >>> model = OnnxMiniLM.load(minilm_path())  # doctest: +SKIP
    >>> model.encode(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(self, model_file: Path, tokenizer: Any, hidden: int = 384) -> None:
        self.model_file = model_file
        self.tokenizer = tokenizer
        self.hidden = hidden
        self._sessions: dict[bool, Any] = {}
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.hidden

    @classmethod
    def load(cls, folder: Path, cache: Path | None = None) -> OnnxMiniLM:
        """Convert (first use only) and open the int8 model of the MiniLM in ``folder``."""
        model = cls(int8_model_file(folder, cache), window_tokenizer(folder)[0])
        model._session(single=False)
        return model

    def _session(self, single: bool) -> Any:
        """The batch session (onnxruntime's default threads), or a one-thread session that does
        not spin for one question: beside a busy process, a question on every thread of torch was
        ~15x slower than on one (``index.embedding.SMALL_CALL_TEXTS``)."""
        with self._lock:
            if single not in self._sessions:
                ort = _require("onnxruntime")
                options = ort.SessionOptions()
                if single:
                    options.intra_op_num_threads = 1
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[single] = ort.InferenceSession(str(self.model_file), options,
                                                              providers=["CPUExecutionProvider"])
            return self._sessions[single]

    def _hidden(self, ids: Sequence[int], single: bool) -> np.ndarray:
        """Last hidden states (tokens, hidden) of one text, as float32.

        Each text runs alone, unpadded. Dynamic quantisation scales each activation tensor by its
        own range, so in a padded batch a text's vector depended on its neighbours and on padding
        rows (cosine 0.965 between the same text alone and batched); alone, it runs in half the CPU
        time of padded batches of 64 (README "Speed"), as no padding is computed.
        """
        batch = np.asarray([ids], dtype=np.int64)
        hidden = self._session(single).run(None, {"input_ids": batch, "attention_mask": np.ones_like(batch),
                                                  "token_type_ids": np.zeros_like(batch)})[0]
        return np.asarray(hidden[0], dtype=np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 64, pad_to_multiple_of: int = 16,
               single_thread: bool = False) -> np.ndarray:
        """Unit-length float32 vectors: the mean of each text's last hidden states ([CLS] and [SEP]
        included, as sentence-transformers). ``batch_size`` and ``pad_to_multiple_of`` are
        ``MiniLM.encode``'s, unused: each text runs alone (``_hidden``)."""
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        for i, t in enumerate(ids):
            out[i] = self._hidden(t, single_thread).mean(axis=0)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def encode_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], batch_size: int = 64,
                     pad_to_multiple_of: int = 16) -> tuple[np.ndarray, list[np.ndarray]]:
        """``encode(texts)`` and, from the same pass, a unit vector per character span: the mean of
        the hidden states of the word pieces inside it, exactly as ``MiniLM.encode_spans`` (a span
        with no word piece inside the window gets the text's vector)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(encodings), self.hidden), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((len(s), self.hidden), dtype=np.float32) for s in spans]
        for i, (encoding, text_spans) in enumerate(zip(encodings, spans, strict=True)):
            hidden = self._hidden(encoding.ids, single=False)
            # Prefix sums: a span's sum is two lookups.
            prefix = np.concatenate([np.zeros((1, self.hidden), dtype=np.float32), hidden.cumsum(axis=0)])
            out[i] = prefix[-1] / len(hidden)
            token_spans = token_ranges(encoding.offsets, encoding.special_tokens_mask, text_spans)
            if token_spans:
                a, b = np.asarray(token_spans).T
                sums = prefix[b] - prefix[a]
                pooled[i][:] = np.where((b > a)[:, None], sums / np.maximum(b - a, 1)[:, None], out[i])
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        for vectors in pooled:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out, pooled
