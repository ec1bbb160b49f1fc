"""Uploads that outlive ``--upload-timeout``: their ingest goes on as a job whose state a client reads.

An upload is answered with its per-file result when it is indexed within the timeout. Past it,
the ingest is not stopped (stopping it part-way would lose work and tell nothing), so the reply is
202 with a job id, and ``GET /v1/documents/jobs/{id}`` says ``queued``, ``running``, ``done``
(with the result the upload would have returned) or ``failed`` (with the error). Jobs live in the
worker that took the upload; the last ``keep`` finished ones are kept, running ones are bounded by
the write gate's queue.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ui.serve.errors import as_api_error

KEEP = 100


@dataclass(frozen=True)
class Job:
    """One upload's ingest, running on after its request was answered."""

    id: str
    collection: str
    files: tuple[str, ...]
    future: asyncio.Future[dict[str, Any]]
    started: threading.Event = field(default_factory=threading.Event)  # set by the work when it runs

    @property
    def url(self) -> str:
        return f"/v1/documents/jobs/{self.id}"

    def state(self) -> dict[str, Any]:
        """The job as JSON: ``status`` and, once it has ended, ``result`` or ``error``."""
        out: dict[str, Any] = {"id": self.id, "object": "upload.job", "collection": self.collection,
                               "files": list(self.files), "status_url": self.url, "result": None, "error": None}
        if not self.future.done():
            return {**out, "status": "running" if self.started.is_set() else "queued"}
        exc = self.future.exception() if not self.future.cancelled() else asyncio.CancelledError()
        if exc is None:
            return {**out, "status": "done", "result": self.future.result()}
        err = as_api_error(exc if isinstance(exc, Exception) else RuntimeError("the upload was cancelled"))
        return {**out, "status": "failed", "error": {"message": err.message, "type": err.kind, "code": err.code,
                                                     "status": err.status}}


def new_job_id() -> str:
    return f"upload-{uuid.uuid4().hex}"


class Jobs:
    """The jobs of one worker, by id (a lock: the routes run on one event loop, but cheap to be safe).

    >>> Jobs().get("upload-0") is None
    True
    """

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.future.done()]
            for old in finished[: max(0, len(finished) - self.keep)]:  # the oldest finished ones go first
                del self._jobs[old.id]
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
