"""The index folder's disk: free space before writing, and storage errors said in one sentence.

Embedded Chroma (1.5) reports every storage failure as a flattened string (an ``InternalError``
such as "database or disk is full", "Error in compaction: Failed to apply logs to the metadata
segment", or "attempt to write a readonly database"), with no errno to look at. So an error is
classified by its message and by the folder's state (is the file system read-only? is the disk
nearly full?); what matches neither is left as it was (a bug, with its traceback). "Damaged" is said only
when the vector segment's files fail to load, never for a full or read-only disk.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from index.errors import RagError

# Below this many free bytes a failed write is the disk being full whatever Chroma's message says:
# a compaction rewrites whole HNSW files and sqlite needs room for its journal.
NEARLY_FULL = 2 * 1024 * 1024

# Bytes one stored chunk and one stored sentence take in embedded Chroma 1.5 (sqlite rows with the
# text, its full-text index and the write-ahead log's copy of the vector, plus the HNSW element).
# Measured: 150 notes made 352 chunks and 4,360 sentences in 23.1 MB; these constants estimate
# 27.5 MB for them (~20% over), so an estimate that fits leaves the reserve untouched.
BYTES_PER_CHUNK = 10_000
BYTES_PER_SENTENCE = 5_500
# Headroom on top: sqlite's journal and a compaction that rewrites the HNSW metadata file.
RESERVE = 4 * 1024 * 1024
# hnswlib grows a full index by a fifth of its elements at once (Chroma's resize factor 1.2), so a
# batch that fills one grows its data file by that much, however few elements it adds.
HNSW_GROWTH = 0.25

_FULL = ("database or disk is full", "no space left", "disk is full", "os error 28", "sqlite_full",
         "disk quota exceeded", "os error 122")
_READ_ONLY = ("readonly database", "read-only database", "read-only file system", "os error 30",
              "permission denied", "os error 13", "sqlite_readonly")
# Only the HNSW segment's files: a damaged chroma.sqlite3 ("malformed") is not what ``rag repair`` mends.
_DAMAGED = ("hnsw segment", "index_metadata.pickle", "pickle file", "data_level0.bin", "link_lists.bin",
            "header.bin", "length.bin")


class IndexWriteError(RagError, OSError):
    """The index folder cannot be written at all (full or read-only): every further write would fail
    the same way, so a writer stops at the first one (exit code 4)."""

    exit_code = 4


class DiskFullError(IndexWriteError):
    """The disk that holds the index has no room for what is to be written."""


class IndexReadOnlyError(IndexWriteError):
    """The index folder is read-only (Chroma cannot open it then, not even to read)."""


class IndexFolderError(IndexWriteError):
    """The index folder cannot be made where it was asked for: no permission, a read-only file
    system, or a virtual one such as /proc (exit code 4, as a read-only index)."""


class IndexDamagedError(RagError, RuntimeError):
    """A vector segment's files cannot be loaded; ``rag repair`` rebuilds them from the stored chunks
    (exit code 5)."""

    exit_code = 5

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message  # Chroma's own words, for ``rag doctor``


def megabytes(n: float) -> str:
    """``n`` bytes for a person.

    >>> megabytes(3_500_000), megabytes(12_000)
    ('3.5 MB', '0.0 MB')
    """
    return f"{n / 1_000_000:.1f} MB"


def free_bytes(folder: Path) -> int:
    """Bytes free for writing on the disk that holds ``folder`` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return int(shutil.disk_usage(candidate).free)
    return 0


def read_only(folder: Path) -> bool:
    """Whether ``folder`` cannot be written (a read-only mount, or permissions; root ignores the latter)."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(folder, os.W_OK)


def disk_full(folder: Path) -> DiskFullError:
    free = free_bytes(folder)
    if free >= RESERVE:  # SQLite also writes large temporary files to TMPDIR (chroma-core/chroma#2247)
        return DiskFullError(f"SQLite reports a full disk, but the disk holding the index {folder} has "
                             f"{megabytes(free)} free, so its temporary folder ({_sqlite_temp()}) is likely "
                             "full; free some space there (or set SQLITE_TMPDIR to a larger disk) and run the "
                             "command again")
    return DiskFullError(f"the disk holding the index {folder} is full ({megabytes(free)} free); free "
                         "some space (or give --index a folder on a larger disk) and run the command again")


def _sqlite_temp() -> str:
    """The folder SQLite puts its temporary files in on Unix (its own order of choices)."""
    return os.environ.get("SQLITE_TMPDIR") or os.environ.get("TMPDIR") or "/var/tmp"


def cannot_create(exc: OSError, folder: Path) -> IndexWriteError:
    """The one-sentence error for ``folder`` (the index folder or a file in it) failing to be made
    with ``exc``. The kernel's errno and the nearest existing folder's file system say why; free
    space is not guessed at (a virtual file system such as /proc reports 0 bytes free, which read
    as a full disk).

    >>> print(cannot_create(FileNotFoundError(errno.ENOENT, "No such file"), Path("/proc/x")))  # doctest: +ELLIPSIS
    cannot create the index folder /proc/x: /proc is a virtual file system of the kernel's, where folders ...
    """
    base = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    where = f"cannot create the index folder {folder}"
    try:
        fs = os.statvfs(base)
    except OSError:
        fs = None
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(folder)
    if fs is not None and fs.f_blocks == 0:
        return IndexFolderError(f"{where}: {base} is a virtual file system of the kernel's, where folders cannot be "
                                "made (as in /proc and /sys); give --index a folder on a disk")
    if exc.errno == errno.EROFS or (fs is not None and fs.f_flag & os.ST_RDONLY):
        return IndexFolderError(f"{where}: {base} is on a read-only file system; give --index a folder on a "
                                "writable disk")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return IndexFolderError(f"{where}: permission denied in {base}; give --index a folder you may write to")
    return IndexFolderError(f"{where}: {exc.strerror or exc}")


def index_read_only(folder: Path) -> IndexReadOnlyError:
    # Chroma 1.5 writes when it opens a folder (measured: "attempt to write a readonly database"), so a
    # read-only index cannot even be read; the index itself is fine.
    return IndexReadOnlyError(f"the index {folder} is read-only, and Chroma must be able to write to an index "
                              "even to read it (the index itself is not damaged); make it writable, or copy it "
                              "to a writable folder and use --index there")


def damaged(folder: Path | None, collection: str, detail: str) -> IndexDamagedError:
    where = f" --index {folder}" if folder is not None else ""
    return IndexDamagedError(f"the vector index of collection {collection!r} cannot be read ({short_detail(detail)}); "
                             f"rebuild it from the stored passages with 'rag repair{where} --collection {collection}'",
                             detail)


def short_detail(detail: str) -> str:
    """The last, most specific part of Chroma's nested "A: B: C" message.

    >>> short_detail("Error executing plan: Error creating hnsw segment reader: Error deserializing pickle file: EOF")
    'Error creating hnsw segment reader: Error deserializing pickle file: EOF'
    """
    return ": ".join(detail.split(": ")[-3:])[:200]


def reserve(folder: Path) -> int:
    """Bytes to keep free beyond the estimate: ``RESERVE`` plus room for the HNSW files to grow.

    >>> reserve(Path("/no/such/index")) == RESERVE
    True
    """
    hnsw = sum(f.stat().st_size for f in folder.glob("*/data_level0.bin")) if folder.is_dir() else 0
    return RESERVE + int(hnsw * HNSW_GROWTH)


def short_of_space(folder: Path, free: int, needed: int, what: str) -> DiskFullError:
    """The error for ``what`` needing ``needed`` bytes (the reserve is added) where ``free`` are free."""
    return DiskFullError(f"the disk holding the index {folder} has {megabytes(free)} free, but {what} needs about "
                         f"{megabytes(needed + reserve(folder))}; free some space (or give --index a folder on a "
                         "larger disk) and run the command again")


def check_space(folder: Path, needed: int, what: str) -> None:
    """Raise ``DiskFullError`` saying how much ``what`` needs unless ``needed`` bytes plus the reserve are free."""
    free = free_bytes(folder)
    if free < needed + reserve(folder):
        raise short_of_space(folder, free, needed, what)


def translate(exc: BaseException, folder: Path, collection: str) -> RagError | None:
    """The one-sentence error for a storage failure of the index in ``folder``, or None (not one)."""
    if isinstance(exc, RagError):
        return None
    text = f"{type(exc).__name__}: {exc}".lower()
    if any(m in text for m in _READ_ONLY) or (read_only(folder) and "write" in text):
        return index_read_only(folder)
    if any(m in text for m in _FULL) or free_bytes(folder) < NEARLY_FULL:
        return disk_full(folder)  # a full disk first: freeing space is the first step either way
    if any(m in text for m in _DAMAGED):
        return damaged(folder, collection, str(exc))
    return None
