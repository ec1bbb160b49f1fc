"""What ``rag serve`` runs with: the answer settings, API keys and limits.

With ``--workers N`` every worker is a fresh process started by uvicorn, so the whole config
travels to it as JSON in one environment variable (``CONFIG_ENV``), never as module globals.

>>> cfg = ServeConfig(Settings.load(env={}, config_file="/dev/null"), api_keys=frozenset({"k" * 20}))
>>> ServeConfig.from_json(cfg.to_json()) == cfg
True
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from rag.settings import Settings, SettingsError, is_loopback_host

CONFIG_ENV = "RAG_SERVE_CONFIG"
MIN_KEY_LENGTH = 16  # a short key is guessable by trying; 16 random characters are not


@dataclass(frozen=True)
class ServeConfig:
    """Settings for answering plus the server's own knobs (flags of ``rag serve``).

    ``max_concurrent`` answers run at once per worker and ``max_queue`` more may wait; beyond
    that a request gets 503 at once. A request still waiting for a slot after ``timeout_s`` gets 503
    (and leaves the queue); one still running ``timeout_s`` after it started gets 504; an
    upload still indexing after ``upload_timeout_s`` gets 202 with a job, and indexing goes on.
    """

    settings: Settings
    api_keys: frozenset[str] = field(default=frozenset(), repr=False)
    max_body_bytes: int = 1024 * 1024  # JSON requests
    max_upload_files: int = 20
    timeout_s: float = 120.0
    upload_timeout_s: float = 900.0
    max_concurrent: int = 4
    max_queue: int = 64
    mount_ui: bool = False

    @property
    def max_upload_bytes(self) -> int:
        """The largest multipart body ``POST /v1/documents`` accepts: every file at the size limit."""
        return self.settings.max_bytes * self.max_upload_files + 1024 * 1024

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("settings", "api_keys")}
        data["api_keys"] = sorted(self.api_keys)
        data["settings"] = {f.name: _plain(getattr(self.settings, f.name)) for f in fields(self.settings)}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = json.loads(text)
        settings = Settings.load(env={}, config_file=os.devnull, **data.pop("settings"))
        return cls(settings=settings, api_keys=frozenset(data.pop("api_keys")), **data)

    def replace(self, **changes: object) -> ServeConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


def load_keys(value: str | None, keys_file: str | None = None) -> frozenset[str]:
    """API keys from ``RAG_API_KEYS`` (comma-separated) and a keys file (one a line, ``#`` comments).

    >>> sorted(load_keys("alpha-key-0123456789, beta-key-0123456789"))
    ['alpha-key-0123456789', 'beta-key-0123456789']
    >>> load_keys("short")
    Traceback (most recent call last):
    ...
    rag.settings.SettingsError: API keys must be at least 16 characters long; one in RAG_API_KEYS has 5
    """
    keys = [k.strip() for k in (value or "").split(",") if k.strip()]
    origin = "RAG_API_KEYS"
    if keys_file:
        path = Path(keys_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SettingsError(f"cannot read the API keys file {path}: {exc.strerror}") from None
        keys += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        origin = f"RAG_API_KEYS or {path}"
    for key in keys:
        if len(key) < MIN_KEY_LENGTH:
            raise SettingsError(f"API keys must be at least {MIN_KEY_LENGTH} characters long; one in {origin} "
                                f"has {len(key)}")
    return frozenset(keys)


def deployment_problem(host: str, workers: int, config: ServeConfig) -> str | None:
    """Why this deployment is unsafe and refused, in one sentence, or None.

    >>> s = Settings.load(env={}, config_file="/dev/null")
    >>> deployment_problem("0.0.0.0", 1, ServeConfig(s))  # doctest: +ELLIPSIS
    'refusing to serve on 0.0.0.0 without API keys: set RAG_API_KEYS...'
    """
    s = config.settings
    if not is_loopback_host(host) and not config.api_keys:
        return (f"refusing to serve on {host} without API keys: set RAG_API_KEYS=KEY[,KEY…] (or --keys-file) "
                "or serve on 127.0.0.1")
    if config.mount_ui and not is_loopback_host(host) and not s.ui_auth:
        return f"refusing to serve the web UI on {host} without a login: set RAG_UI_AUTH=user:password"
    if workers > 1 and not s.chroma_url:
        return ("--workers above 1 needs a Chroma server (--chroma-url or RAG_CHROMA_URL): an embedded index "
                "is served by one worker")
    if workers > 1 and config.mount_ui:
        return "--ui runs in one worker only (a browser session lives in one process): drop --ui or --workers"
    return None
