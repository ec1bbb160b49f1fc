"""all-MiniLM-L6-v2 in int8 for CPUs without hardware bfloat16, run by ONNX Runtime.

The packaged weights are exported to ONNX and dynamically quantised (weights int8 per channel,
activations at run time) once, at first use, into a cache folder; nothing is downloaded. On a CPU
without VNNI the weights keep 7 bits (``seven_bit``): there onnxruntime multiplies uint8 by int8 in
pairs summed in 16 bits, which 8-bit weights can overflow (saturate) and 7-bit ones cannot, so its
integer products are then exactly those a VNNI CPU computes from the same model. Tokens,
mean pooling and span pooling are ``index.minilm``'s, so the vectors are MiniLM's up to int8
rounding (cosine ~0.995 to float32: README "Speed"). On one thread it encoded 2.7x faster than
float32 torch (and 1.5x bfloat16's speed, which ``auto`` keeps where the CPU has it: its vectors
are float32's).

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, which pins an older
transformers than ours, hence the few lines of export here (``torch.onnx``, then
``onnxruntime.quantization``).
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

from index.cpus import usable_cores
from index.errors import UsageError
from index.minilm import token_ranges, window_tokenizer
from index.models import weights_fingerprint

# Part of the cache file's name: bump it when the export or the quantisation changes, so an old
# file is never taken for the new one.
FORMAT = 3


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
                                   f"'pip install {module}' or choose RAG_EMBED_PRECISION=float32") from None


def int8_model_file(folder: Path, cache: Path | None = None, seven_bit: bool = False) -> Path:
    """The int8 ONNX model of the MiniLM weights in ``folder``, made on first use; with ``seven_bit``,
    its weights in 7 bits (for CPUs without VNNI: ``quantize_int8``), a file of its own.

    It is built in a private temporary folder beside its final place and then renamed into place
    (atomic on one filesystem): a crash leaves no half-written model, and processes converting at
    once each rename a whole file over the same name.
    """
    cache = cache or model_cache_dir()
    kind = "int8w7" if seven_bit else "int8"
    target = cache / f"minilm-{weights_fingerprint(str(folder))}-{kind}-v{FORMAT}.onnx"
    if target.is_file():
        return target
    _require("onnx")
    _require("onnxruntime")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".convert-") as work:
            fp32, int8 = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
            export_onnx(folder, fp32)
            quantize_int8(fp32, int8, seven_bit)
            os.replace(int8, target)
    except OSError as exc:  # a read-only or full disk: the user can point the cache elsewhere
        raise Int8UnavailableError(f"cannot write the int8 model into {cache} ({exc.strerror or exc}); set "
                                   "XDG_CACHE_HOME to a writable folder or choose RAG_EMBED_PRECISION=float32"
                                   ) from None
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
    """Our torch MiniLM (``index.minilm``) as ONNX: token ids and mask in, last hidden states out.

    Traced from our own code rather than transformers' BERT (whose vectors it matches): no
    transformers import, which a cold process avoids (``index.minilm``).
    """
    from index.embedding import import_torch

    import_torch()  # with the OpenMP setting of question-serving processes, if it is the first
    import torch

    from index.minilm import MiniLM

    model = MiniLM.load(folder, "float32")

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # The weights as the module's own tensors: the exporter stores them as initializers, which
            # the quantiser turns into int8 (traced as plain tensors they became constants it skips).
            for name, tensor in model.w.items():
                self.register_buffer(name.replace(".", "__"), tensor)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return model._hidden(input_ids, attention_mask.bool())

    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "texts", 1: "tokens"}
    with _quiet(), torch.inference_mode():
        torch.onnx.export(LastHidden(), (ids, torch.ones_like(ids)), str(target),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                          opset_version=17, dynamo=False)


def quantize_int8(source: Path, target: Path, seven_bit: bool = False) -> None:
    """Dynamic int8 quantisation: weights int8 per output channel, activations uint8 at run time,
    except the first layer's feed-forward output (``float_matmuls``).

    ``seven_bit`` keeps the weights within -64..64 (onnxruntime's ``reduce_range``), for CPUs without
    VNNI: their kernels (AVX2's ``vpmaddubsw``) add two uint8 x int8 products in 16 bits, which
    saturates past 32,767; 255 x 64 x 2 stays below. Measured on 426 Python-doc chunks, cosine to
    float32 (min / mean): 8-bit weights 0.990 / 0.9958 with VNNI but 0.974 / 0.9931 without it (the
    same model, saturated); 7-bit weights 0.987 / 0.9948 on every CPU (README "Speed")."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=seven_bit, nodes_to_exclude=float_matmuls(source))


def float_matmuls(model_file: Path) -> list[str]:
    """The matrix product left in float32: the first one with a (1536, 384) weight, the first
    layer's feed-forward output. Its 1536 inputs share one activation scale in dynamic int8, and
    quantising it cost the most: on 200 Python-doc chunks, sentence vectors were at cosine min
    0.9687 / mean 0.9933 to float32 with every product int8, 0.9863 / 0.9947 without this one, for
    4% more CPU (README "Speed"). Leaving any other layer's products in float32 gained less.
    """
    import onnx

    graph = onnx.load(str(model_file), load_external_data=False).graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    wide = {name for name, dims in shapes.items() if len(dims) == 2 and dims[0] > dims[1]}
    first = next((n.name for n in graph.node if n.op_type == "MatMul" and wide & set(n.input)), None)
    return [first] if first else []


def default_workers() -> int:
    """Texts embedded at once in a bulk call: one per CPU this process may use."""
    return usable_cores()


class OnnxMiniLM:
    """MiniLM's int8 ONNX model with ``index.minilm.MiniLM``'s ``encode`` and ``encode_spans``.

    Each text runs alone, on one thread of one shared session; a bulk call runs ``workers`` texts
    at once from a pool of its own. Shared and thread-safe: onnxruntime sessions may run from
    several threads at once, and each call keeps its arrays and its pool to itself.

    >>> model = OnnxMiniLM.load(minilm_path())  # doctest: +SKIP
    >>> model.encode(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(self, model_file: Path, tokenizer: Any, hidden: int = 384, workers: int | None = None) -> None:
        self.model_file = model_file
        self.tokenizer = tokenizer
        self.hidden = hidden
        self.workers = workers or default_workers()
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.hidden

    @classmethod
    def load(cls, folder: Path, cache: Path | None = None, seven_bit: bool = False) -> OnnxMiniLM:
        """Convert (first use only) and open the int8 model of the MiniLM in ``folder`` (its 7-bit
        weights with ``seven_bit``: ``int8_model_file``)."""
        model = cls(int8_model_file(folder, cache, seven_bit), window_tokenizer(folder)[0])
        model.session()
        return model

    def session(self) -> Any:
        """The one onnxruntime session (made once), on one intra-op thread.

        Parallel texts rather than parallel matrix products: with onnxruntime's default two threads
        per text, beside another busy process on two cores, 150 chunks took 8.0 s wall and 8.3 s
        CPU against 3.7 s and 3.7 s on one thread (its threads wait for each other at every
        operator), and a question on every thread of torch was ~15x slower than on one.
        """
        with self._lock:
            if self._session is None:
                ort = _require("onnxruntime")
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                self._session = ort.InferenceSession(str(self.model_file), options,
                                                     providers=["CPUExecutionProvider"])
            return self._session

    def _hidden(self, ids: Sequence[int]) -> np.ndarray:
        """Last hidden states (tokens, hidden) of one text, as float32.

        Each text runs alone, unpadded. Dynamic quantisation scales each activation tensor by its
        own range, so in a padded batch a text's vector depended on its neighbours and on padding
        rows (cosine 0.965 between the same text alone and batched); alone, it ran in half the CPU
        time of padded batches of 64, as no padding is computed.
        """
        batch = np.asarray([ids], dtype=np.int64)
        hidden = self.session().run(None, {"input_ids": batch, "attention_mask": np.ones_like(batch)})[0]
        return np.asarray(hidden[0], dtype=np.float32)

    def _all_hidden(self, ids: Sequence[Sequence[int]]) -> Iterator[np.ndarray]:
        """``_hidden`` of each text in order, ``workers`` at a time (onnxruntime releases the GIL)."""
        if len(ids) <= 1 or self.workers <= 1:
            yield from map(self._hidden, ids)
            return
        from concurrent.futures import ThreadPoolExecutor

        # A few texts per worker in flight: results waiting for an earlier, longer text stay few.
        step = self.workers * 8
        with ThreadPoolExecutor(max_workers=min(self.workers, len(ids)), thread_name_prefix="int8-embed") as pool:
            for first in range(0, len(ids), step):
                yield from pool.map(self._hidden, ids[first:first + step])

    def encode(self, texts: Sequence[str], batch_size: int = 64, pad_to_multiple_of: int = 16) -> np.ndarray:
        """Unit-length float32 vectors: the mean of each text's last hidden states ([CLS] and [SEP]
        included, as sentence-transformers). ``batch_size`` and ``pad_to_multiple_of`` are
        ``MiniLM.encode``'s, unused: each text runs alone (``_hidden``)."""
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        for i, hidden in enumerate(self._all_hidden(ids)):
            out[i] = hidden.mean(axis=0)
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
        every = self._all_hidden([e.ids for e in encodings])
        for i, (encoding, text_spans, hidden) in enumerate(zip(encodings, spans, every, strict=True)):
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
