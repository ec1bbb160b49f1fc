"""Uploads with the web UI's type and size limits, and a result for every file.

Accepted files are kept in ``<index>/uploads/<collection>/`` (as the UI keeps them) and indexed;
each file gets its own status: ``indexed``, ``unchanged``, ``refused`` (type or size, never
written) or ``failed`` (could not be read or indexed; the copy is removed).
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rag.errors import DiskFullError
from ui.controller import check_upload


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one uploaded file."""

    name: str
    status: str  # indexed | unchanged | refused | failed
    error: str | None = None
    id: str | None = None
    source: str | None = None
    passages: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def document_id(source: str) -> str:
    """A stable id for an indexed file, safe in a URL.

    >>> document_id("/srv/docs/a.md")
    '7e2437ba3b7676c4'
    """
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def safe_name(name: str) -> str:
    """A file name that stays inside the upload folder (no separators, no leading dots).

    >>> safe_name("../../etc/passwd.txt"), safe_name(".env")
    ('passwd.txt', 'env')
    """
    cleaned = "".join(c if c.isalnum() or c in "-_. " else "_" for c in Path(name).name).strip(" .")
    return cleaned or "file"


Accepted = list[tuple[int, str, Path]]
"""(position in the upload, name as sent, where it is kept) of each accepted file."""
Outcomes = list[tuple[int, FileOutcome]]


@dataclass(frozen=True)
class Received:
    """Uploads copied to disk in a private ``folder`` (inside the upload folder, so a move is a
    rename): the ``files`` to index and the ``refused`` ones. The request's own copies may be
    closed once it is answered; an ingest that outlives it reads these."""

    folder: Path
    files: Accepted
    refused: Outcomes

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def receive(uploads: list[tuple[str, BinaryIO]], upload_dir: Path, max_bytes: int) -> Received:
    """Copy the uploads to disk; those of a type or size the UI refuses are refused with its reason."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(dir=upload_dir, prefix=".incoming-"))
    files: Accepted = []
    refused: Outcomes = []
    try:
        for index, (name, stream) in enumerate(uploads):
            staged = incoming / str(index)
            staged.mkdir()
            staged = staged / safe_name(name or "file")
            with staged.open("wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            reason = check_upload(staged, max_bytes)
            if reason:
                staged.unlink()
                refused.append((index, FileOutcome(name, "refused", reason)))
            else:
                files.append((index, name, staged))
    except BaseException as exc:
        shutil.rmtree(incoming, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            # The server's disk, as a full index is (507): not a fault of the request's files.
            raise DiskFullError(f"the disk holding the upload folder {upload_dir} is full, so the files could not "
                                "be received: free some space on the server and send them again") from None
        raise
    return Received(incoming, files, refused)


def place(received: Received, upload_dir: Path) -> Accepted:
    """Move the received files into ``upload_dir`` (a file of the same name is replaced, as the UI
    does); the caller holds the write lock, so no ingest is reading them."""
    accepted: Accepted = []
    for index, name, staged in received.files:
        target = upload_dir / staged.name
        staged.replace(target)
        accepted.append((index, name, target))
    return accepted


def index_files(assistant: Any, accepted: Accepted) -> Outcomes:
    """Index the accepted files in one ingest; failures are named per file and their copies removed."""
    if not accepted:
        return []
    written: set[str] = set()

    def progress(stage: str, path: str, done: int, total: int) -> None:
        if stage == "done":
            written.add(path)

    try:
        report = assistant.add([path for _, _, path in accepted], progress=progress)
    except Exception:  # stopped part-way (a full disk, a dead server): keep only the copies it indexed
        for _, _, path in accepted:
            if str(path) not in written and str(path.resolve()) not in written:
                path.unlink(missing_ok=True)
        raise
    failed = {str(Path(f.path).resolve()): f.error for f in report.files_failed}
    counts = assistant.sources()
    outcomes: Outcomes = []
    for position, name, path in accepted:
        source = str(path.resolve())
        if source in failed or source not in counts:
            path.unlink(missing_ok=True)
            outcomes.append((position, FileOutcome(name, "failed", failed.get(source, "it was not indexed"))))
        else:
            status = "indexed" if source in written else "unchanged"
            outcomes.append((position, FileOutcome(name, status, None, document_id(source), source, counts[source])))
    return outcomes
