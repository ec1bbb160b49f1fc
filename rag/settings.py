"""Settings: defaults < config file (``rag.toml`` or ``$RAG_CONFIG``) < ``RAG_*`` environment < arguments.

Only ``rag`` reads settings; library code below it takes explicit parameters.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from index.chroma_http import DEFAULT_TIMEOUT
from index.embedding import PRECISIONS
from index.errors import UsageError
from rag.answer.extractive import DEFAULT_ANSWER_WORDS
from rag.llm.registry import BACKEND_NAMES

JUDGE_NAMES = ("heuristic", "nli", "llm")
"""The support judges ``RAG_JUDGE`` / ``--judge`` can name: the rules (default), the rules with the
optional entailment model (only when named: README "The support judge"), or the configured LLM."""


class SettingsError(UsageError):
    """A setting has a value we cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Every knob, with its environment variable in the comment.

    >>> Settings.load(env={"RAG_K": "8"}).k
    8
    """

    index_dir: Path = Path(".rag-index")  # RAG_INDEX_DIR
    collection: str = "docs"  # RAG_COLLECTION
    chroma_url: str | None = None  # RAG_CHROMA_URL: use a Chroma server instead of the embedded store
    chroma_timeout: float = DEFAULT_TIMEOUT  # RAG_CHROMA_TIMEOUT: seconds to wait for the Chroma server's answer
    k: int = 5  # RAG_K
    # RAG_ANSWER_WORDS: the most words an extractive answer quotes (its first excerpt stays whole);
    # longer answers hold the evidence more often (README "Evaluations": answer length)
    answer_words: int = DEFAULT_ANSWER_WORDS
    strict: bool = False  # RAG_STRICT: drop unsupported sentences
    backend: str = "extractive"  # RAG_BACKEND: extractive | openai | gguf
    llm_base_url: str | None = None  # RAG_LLM_BASE_URL
    llm_model: str | None = None  # RAG_LLM_MODEL
    llm_api_key: str | None = None  # RAG_LLM_API_KEY
    gguf_path: str | None = None  # RAG_GGUF_PATH
    max_file_mb: float = 50.0  # RAG_MAX_FILE_MB
    fusion: str = "minmax"  # RAG_FUSION: minmax | rrf (minmax measured better on both eval sets)
    widen: int = 1  # RAG_WIDEN: neighbouring chunks added on each side of a hit (measured: README "Evaluations")
    refusal_threshold: float | None = None  # RAG_REFUSAL_THRESHOLD (default: the calibrated value)
    llm_context: int | None = None  # RAG_LLM_CONTEXT (default 8192 openai, 4096 gguf)
    llm_max_tokens: int | None = None  # RAG_LLM_MAX_TOKENS (default 512)
    llm_temperature: float | None = None  # RAG_LLM_TEMPERATURE (default 0)
    llm_timeout: float | None = None  # RAG_LLM_TIMEOUT: seconds the LLM server may stay silent (default 120)
    judge: str = "heuristic"  # RAG_JUDGE: heuristic (rules) | nli (rules + the opt-in entailment model) | llm
    embed_model: str | None = None  # RAG_EMBED_MODEL: a sentence-transformers folder or package (default MiniLM)
    # RAG_EMBED_PRECISION: auto (bfloat16 where the CPU has it) | float32 | bfloat16 | int8 (ONNX Runtime)
    embed_precision: str = "auto"
    # An OpenAI-compatible embedding server instead of the local model (index.remote_embedding).
    embed_url: str | None = None  # RAG_EMBED_URL, e.g. http://127.0.0.1:7997/v1
    embed_api_key: str | None = None  # RAG_EMBED_API_KEY
    embed_server_model: str | None = None  # RAG_EMBED_SERVER_MODEL (default: the one model the server lists)
    embed_concurrency: int = 4  # RAG_EMBED_CONCURRENCY: requests in flight at once
    ui_auth: str | None = None  # RAG_UI_AUTH=user:password
    ui_host: str = "127.0.0.1"  # RAG_UI_HOST
    ui_port: int = 7860  # RAG_UI_PORT

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, config_file: str | Path | None = None,
             **overrides: Any) -> Settings:
        """Merge defaults, the config file, ``RAG_*`` variables and explicit overrides (None = unset)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = Path(config_file or env.get("RAG_CONFIG") or "rag.toml")
        if not config_file and env.get("RAG_CONFIG") and not path.is_file():
            # A typo in the user's RAG_CONFIG must not silently fall back to defaults. (A missing
            # ``config_file`` argument means "no config file", which tests use to ignore rag.toml.)
            raise SettingsError(f"config file {path} (RAG_CONFIG) does not exist")
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"config file {path}: {exc}") from None
            values.update(data.get("rag", data))
        for field in fields(cls):
            raw = env.get(f"RAG_{field.name.upper()}")
            if raw not in (None, ""):
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**{name: _coerce(name, value) for name, value in values.items()})

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


# The most passages one question can get: retrieval fuses each list's best ``MAX_K`` candidates
# (``RetrievalConfig.candidates``; the fusion was measured over lists of ~50: DESIGN "Retrieval
# lessons" 4), so a larger k could not be filled and is refused rather than silently cut.
MAX_K = 50
_MAXIMUM = {"k": MAX_K, "answer_words": 1000}
_MINIMUM = {"k": 1, "answer_words": 20, "widen": 0, "max_file_mb": 0.001, "ui_port": 0, "refusal_threshold": -1.0,
            "llm_context": 256, "llm_max_tokens": 1, "llm_temperature": 0.0, "llm_timeout": 0.1, "embed_concurrency": 1,
            "chroma_timeout": 0.01}


def is_loopback_host(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable only from this machine (then it may run
    without a login; any other host needs one).

    >>> is_loopback_host("127.0.0.1"), is_loopback_host("localhost"), is_loopback_host("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _in_range(name: str, value: float) -> Any:
    low = _MINIMUM.get(name)
    if low is not None and value < low:
        raise SettingsError(f"setting {name} (RAG_{name.upper()}) must be at least {low}, not {value}")
    high = _MAXIMUM.get(name)
    if high is not None and value > high:
        raise SettingsError(f"setting {name} (RAG_{name.upper()}) must be at most {high}, not {value}")
    return value


def _coerce(name: str, value: Any) -> Any:
    types = {f.name: f.type for f in fields(Settings)}
    kind = str(types[name])
    try:
        if "Path" in kind:
            return Path(value).expanduser()
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
                raise ValueError(value)
            return lowered in {"1", "true", "yes", "on"}
        if kind.startswith("int"):
            return _in_range(name, int(value))
        if "float" in kind:
            return _in_range(name, float(value))
    except SettingsError:
        raise
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name} (RAG_{name.upper()}) has the bad value {value!r}") from None
    if name == "backend" and value not in BACKEND_NAMES:
        raise SettingsError(f"unknown backend {value!r}; choose one of: {', '.join(BACKEND_NAMES)}")
    if name == "judge" and value not in JUDGE_NAMES:
        raise SettingsError(f"unknown judge {value!r}; choose heuristic, nli or llm")
    if name == "embed_precision" and value not in PRECISIONS:
        raise SettingsError(f"unknown embed_precision {value!r}; choose {', '.join(PRECISIONS[:-1])} or "
                            f"{PRECISIONS[-1]}")
    if name == "fusion" and value not in ("rrf", "minmax"):
        raise SettingsError(f"unknown fusion {value!r}; choose rrf or minmax")
    return value
