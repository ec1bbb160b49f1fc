"""Uploads and removals that outlive ``--upload-timeout``: they go on as jobs whose state a client reads.

A write is answered with its result when it ends within the timeout. Past it (indexing a large
file, or waiting behind one), the write is not stopped (stopping it part-way would lose work and
tell nothing), so the reply is 202 with a job id, and ``GET /v1/documents/jobs/{id}`` says
``queued``, ``running``, ``done`` (with the result the request would have returned) or ``failed``
(with the error).

Every worker answers that GET: with ``--workers N`` the requests of one client reach any of them
(one shared socket), so each job's state is also written to a small JSON file in a folder all
workers share (``<index>/uploads/.jobs``) when it is taken on, when it starts and when it ends.
A job whose worker stopped before it ended reads as failed, not as running for ever. The last
``keep`` finished jobs of each worker are kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ui.serve.errors import as_api_error

KEEP = 100
KINDS = ("upload", "removal")
_ID = re.compile(r"^(upload|removal)-[0-9a-f]{32}$")  # also keeps a GET's id from naming any other file


@dataclass(frozen=True)
class Job:
    """One upload's ingest (or one removal), running on after its request was answered."""

    id: str
    collection: str
    files: tuple[str, ...]
    future: asyncio.Future[dict[str, Any]]
    started: threading.Event = field(default_factory=threading.Event)  # set by the work when it runs

    @property
    def kind(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def url(self) -> str:
        return f"/v1/documents/jobs/{self.id}"

    def state(self) -> dict[str, Any]:
        """The job as JSON: ``status`` and, once it has ended, ``result`` or ``error``."""
        out: dict[str, Any] = {"id": self.id, "object": f"{self.kind}.job", "collection": self.collection,
                               "files": list(self.files), "status_url": self.url, "result": None, "error": None,
                               "worker": os.getpid()}
        if not self.future.done():
            return {**out, "status": "running" if self.started.is_set() else "queued"}
        exc = self.future.exception() if not self.future.cancelled() else asyncio.CancelledError()
        if exc is None:
            return {**out, "status": "done", "result": self.future.result()}
        err = as_api_error(exc if isinstance(exc, Exception) else RuntimeError(f"the {self.kind} was cancelled"))
        return {**out, "status": "failed", "error": {"message": err.message, "type": err.kind, "code": err.code,
                                                     "status": err.status}}


def new_job_id(kind: str = "upload") -> str:
    """A job id that says what the job does.

    >>> new_job_id("removal").startswith("removal-")
    True
    """
    assert kind in KINDS, kind
    return f"{kind}-{uuid.uuid4().hex}"


class Jobs:
    """The jobs of one worker, by id, with their states in ``folder`` for the other workers.

    >>> Jobs().get("upload-0") is None
    True
    """

    def __init__(self, folder: Path | None = None, keep: int = KEEP) -> None:
        self.folder = folder
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._ended: dict[str, dict[str, Any]] = {}  # a failed job's error is turned into words (and logged) once
        self._lock = threading.Lock()  # the routes run on the event loop, a job's start in a worker thread

    def add(self, job: Job) -> Job:
        """Keep ``job`` (its state saved now, when it starts and when it ends)."""
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.id in self._ended]
            for old in finished[: max(0, len(finished) - self.keep)]:  # the oldest finished ones go first
                del self._jobs[old.id]
                self._ended.pop(old.id, None)
                if self.folder is not None:
                    (self.folder / f"{old.id}.json").unlink(missing_ok=True)
        self.save(job.id)
        job.future.add_done_callback(lambda _: self.save(job.id))
        return job

    def save(self, job_id: str) -> None:
        """Write the state of ``job_id``, if it is one of this worker's (called as it changes)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return  # answered within its timeout: no job was made
            state = job.state() if job_id not in self._ended else self._ended[job_id]
            if state["status"] in ("done", "failed"):
                self._ended[job_id] = state
            if self.folder is not None:
                _write_json(self.folder, f"{job_id}.json", state)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The state of ``job_id``: this worker's own, or one another worker saved; None when unknown."""
        with self._lock:
            if job_id in self._ended:
                return self._ended[job_id]
            job = self._jobs.get(job_id)
        if job is not None:
            return job.state()
        if self.folder is None or not _ID.match(job_id):
            return None
        try:
            state: dict[str, Any] = json.loads((self.folder / f"{job_id}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if state.get("status") in ("queued", "running") and not _alive(state.get("worker")):
            message = (f"the worker that took this {state.get('object', 'job').split('.')[0]} (process "
                       f"{state.get('worker')}) stopped before it ended; list the documents to see what was done")
            state = {**state, "status": "failed",
                     "error": {"message": message, "type": "server_error", "code": None, "status": 500}}
        return state


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _write_json(folder: Path, name: str, data: dict[str, Any]) -> None:
    """Replace ``folder/name`` at once (a reader never sees half a file); a folder that cannot be
    written only costs the other workers the job's state, so it is not an error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(tmp, folder / name)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
