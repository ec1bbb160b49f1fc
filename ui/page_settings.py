"""A page's settings as its browser tab keeps them across reloads (sessionStorage, key ``rag-settings``).

A reload used to start the page from the server's settings again: a collection or backend chosen
under Settings was gone, and an interrupted answer asked again after the reload went to the
server's backend. The tab now keeps what was applied (and ``k`` and strict mode as they are set),
and the page's load handler applies it again, asking the backend for real as Apply does.

The API key is never kept: the browser's storage is readable by anyone who can run a script on
the page or read the profile. Only whether one was typed is kept, so that a failed restore can say
to enter it again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ui.session import SessionSettings

STORAGE_KEY = "rag-settings"
K_RANGE = (1, 20)  # the Settings slider's range; a kept k outside it is not restored


@dataclass(frozen=True)
class KeptSettings:
    """What a tab keeps: the applied backend and collection (no key), and ``k`` and strict mode.

    >>> kept = KeptSettings.parse('{"backend": "extractive", "collection": "papers", "k": 8}')
    >>> kept.collection, kept.k, kept.strict
    ('papers', 8, None)
    >>> KeptSettings.parse("not json") is None, KeptSettings.parse('{"backend": 3}') is None
    (True, True)
    """

    backend: str | None = None
    collection: str | None = None
    llm_base_url: str | None = None
    llm_model: str | None = None
    gguf_path: str | None = None
    had_key: bool = False
    k: int | None = None
    strict: bool | None = None

    @classmethod
    def of(cls, session: SessionSettings, had_key: bool) -> KeptSettings:
        """What to keep once ``session`` was applied (``k`` and strict are kept as they change)."""
        return cls(session.backend, session.collection, session.llm_base_url, session.llm_model,
                   session.gguf_path, had_key)

    @classmethod
    def parse(cls, text: str) -> KeptSettings | None:
        """The kept settings, or None for anything else (nothing kept, or storage edited by hand)."""
        try:
            raw: Any = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        text_fields = ("backend", "collection", "llm_base_url", "llm_model", "gguf_path")
        if any(raw.get(f) is not None and not isinstance(raw[f], str) for f in text_fields):
            return None
        raw_k = raw.get("k")
        k = (int(raw_k) if isinstance(raw_k, (int, float)) and not isinstance(raw_k, bool)
             and K_RANGE[0] <= raw_k <= K_RANGE[1] else None)
        strict = raw.get("strict") if isinstance(raw.get("strict"), bool) else None
        return cls(**{f: raw.get(f) or None for f in text_fields}, had_key=raw.get("had_key") is True, k=k,
                   strict=strict)

    def json(self) -> str:
        """The applied part only: the page script merges it into what the tab keeps."""
        return json.dumps({key: value for key, value in asdict(self).items() if key not in ("k", "strict")})

    def session(self, current: SessionSettings) -> SessionSettings | None:
        """The session these settings ask for, or None when they keep no backend (only k or strict)."""
        if not self.backend:
            return None
        return SessionSettings(self.backend, self.collection or current.collection, self.llm_base_url,
                               self.llm_model, None, self.gguf_path)
