"""An upload whose indexing outlives ``--upload-timeout`` (a 40 MB file took longer than 900 s): the
client was told 504 "abandoned" while the ingest went on and indexed the file, and a second upload
waited behind it with no timeout at all. Now the reply is 202 with a job whose state says how the
ingest ends, and a queued upload is a job too (in-process ASGI, a small timeout, an embedder held
back by the test instead of a large file)."""

from __future__ import annotations

import asyncio
import errno
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from rag.assistant import Assistant
from rag.errors import DiskFullError
from rag.settings import Settings
from tests.fakes import WordEmbedder
from ui.serve.app import create_app
from ui.serve.config import ServeConfig

SLOW_WORD = "zephyrite"


class HeldEmbedder(WordEmbedder):
    """A ``WordEmbedder`` that waits for ``release`` before embedding any text with ``SLOW_WORD``:
    an ingest as slow as the test wants, without a large file or a timing guess."""

    def __init__(self, release: threading.Event, fails: Exception | None = None) -> None:
        super().__init__()
        self.release = release
        self.fails = fails  # raised once released, as a disk that filled up meanwhile would

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any(SLOW_WORD in t.lower() for t in texts):
            assert self.release.wait(60), "the test never released the ingest"
            if self.fails is not None:
                raise self.fails
        return super().embed(texts)


def _app(folder: Path, embedder: HeldEmbedder) -> Any:
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=folder / "none.toml")
    settings = settings.replace(index_dir=folder / "index")
    (folder / "peace.txt").write_text("Zelenskyy rejected the proposal to cede territory.")
    assistant = Assistant(settings=settings, embedder=embedder)
    assistant.add(folder / "peace.txt")
    return create_app(ServeConfig(settings, upload_timeout_s=0.2), assistant=assistant)


@pytest.fixture
def served(tmp_path: Path) -> tuple[Any, threading.Event]:
    release = threading.Event()
    return _app(tmp_path, HeldEmbedder(release)), release


async def _until_ended(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    for _ in range(600):  # a bound, not a timing assertion: the job ends as soon as its ingest does
        state: dict[str, Any] = (await client.get(url)).json()
        if state["status"] in ("done", "failed"):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"the job at {url} did not end")


def test_an_upload_past_its_timeout_is_a_job_that_ends_indexed(served: tuple[Any, threading.Event]) -> None:
    app, release = served

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            slow = await client.post("/v1/documents", files=[
                ("files", ("zephyrite.md", b"# Zephyrite\n\nThe zephyrite mine produced 40 tonnes of ore.\n",
                           "text/markdown"))])
            assert slow.status_code == 202, slow.text
            job = slow.json()
            assert job["status"] == "running" and job["files"] == ["zephyrite.md"] and job["result"] is None
            assert slow.headers["location"] == job["status_url"] == f"/v1/documents/jobs/{job['id']}"
            assert job["message"] == (f"the upload is still running after 0.2 s and goes on in the background; GET "
                                      f"{job['status_url']} says when it is done and what happened to each file")
            # A second upload waits for the first: past its own timeout it is a queued job, not a hung request.
            queued = await client.post("/v1/documents", files=[
                ("files", ("solar.md", b"# Solar\n\nSolar panels turn sunlight into electricity.\n", "text/markdown"))])
            assert queued.status_code == 202 and queued.json()["status"] == "queued", queued.text
            assert (await client.get(job["status_url"])).json()["status"] == "running"
            release.set()
            done = await _until_ended(client, job["status_url"])
            assert done["status"] == "done" and done["error"] is None
            [outcome] = done["result"]["files"]
            assert outcome["status"] == "indexed" and outcome["passages"] == 1
            second = await _until_ended(client, queued.json()["status_url"])
            assert [f["status"] for f in second["result"]["files"]] == ["indexed"]
            listed = {d["name"] for d in (await client.get("/v1/documents")).json()["documents"]}
            assert {"zephyrite.md", "solar.md"} <= listed
            uploads = Path(outcome["source"]).parent
            assert sorted(p.name for p in uploads.iterdir()) == ["solar.md", "zephyrite.md"]  # no staging left
            answer = (await client.post("/v1/ask", json={"question": "How much ore did the zephyrite mine produce?"}))
            assert answer.json()["citations"][0]["source"] == outcome["source"]
            missing = await client.get("/v1/documents/jobs/upload-nope")
            assert missing.status_code == 404 and missing.json()["error"]["message"].startswith(
                "there is no job 'upload-nope'")

    asyncio.run(scenario())


def test_an_upload_within_its_timeout_is_answered_with_its_result(served: tuple[Any, threading.Event]) -> None:
    app, _ = served

    async def scenario() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/documents", files=[
                ("files", ("solar.md", b"# Solar\n\nSolar panels turn sunlight into electricity.\n", "text/markdown")),
                ("files", ("tool.exe", b"MZ", "application/octet-stream"))])

    reply = asyncio.run(scenario())
    assert reply.status_code == 200, reply.text
    assert [f["status"] for f in reply.json()["files"]] == ["indexed", "refused"]


def test_a_job_whose_ingest_fails_says_why_with_the_status_the_upload_would_have_had(tmp_path: Path) -> None:
    release = threading.Event()
    app = _app(tmp_path, HeldEmbedder(release, fails=DiskFullError("the disk holding the index is full; free some "
                                                                   "space and run the command again")))

    async def scenario() -> tuple[httpx.Response, dict[str, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            reply = await client.post("/v1/documents", files=[
                ("files", ("zephyrite.md", b"# Zephyrite\n\nThe zephyrite mine made 40 tonnes.\n", "text/markdown"))])
            release.set()
            return reply, await _until_ended(client, reply.json()["status_url"])

    reply, state = asyncio.run(scenario())
    assert reply.status_code == 202 and state["status"] == "failed" and state["result"] is None
    assert state["error"]["status"] == 507
    assert state["error"]["message"].startswith("the disk holding the index is full")
    uploads = tmp_path / "index" / "uploads" / "docs"
    assert list(uploads.iterdir()) == []  # neither the copy it could not index nor the staging folder is left


def _slow_upload() -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", ("zephyrite.md", b"# Zephyrite\n\nThe zephyrite mine produced 40 tonnes of ore.\n",
                       "text/markdown"))]


def test_a_removal_behind_a_long_upload_is_a_job_not_a_hung_request(served: tuple[Any, threading.Event]) -> None:
    """A DELETE waited for the write slot with no timeout (64 s behind a 1.2 MB upload, measured), then
    was told 504 "abandoned; try a shorter question … --timeout" although the file was then removed."""
    app, release = served

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            [peace] = (await client.get("/v1/documents")).json()["documents"]
            assert (await client.post("/v1/documents", files=_slow_upload())).status_code == 202
            # a bound, not a timing assertion: before, this request did not end until the upload did
            removal = await asyncio.wait_for(client.delete(f"/v1/documents/{peace['id']}"), 30)
            assert removal.status_code == 202, removal.text
            job = removal.json()
            assert job["status"] == "queued" and job["object"] == "removal.job" and job["files"] == ["peace.txt"]
            assert job["message"].endswith("says when it is done and how many passages were removed")
            release.set()
            done = await _until_ended(client, job["status_url"])
            assert done["status"] == "done" and done["result"]["removed_passages"] == 1
            assert done["result"]["source"] == peace["source"]
            listed = {d["name"] for d in (await client.get("/v1/documents")).json()["documents"]}
            assert listed == {"zephyrite.md"}
            unknown = await client.delete(f"/v1/documents/{peace['id']}")  # a 404 at once, never a job
            assert unknown.status_code == 404, unknown.text

    asyncio.run(scenario())


def test_a_job_is_read_by_every_worker(served: tuple[Any, threading.Event], tmp_path: Path) -> None:
    """With --workers N a client's requests reach any worker; a job's GET used to be a 404 in every
    worker but the one that took the upload."""
    app, release = served
    other = create_app(app.state.rag.config, assistant=app.state.rag.collections.get())  # a second worker's state

    async def scenario() -> None:
        first = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        second = httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://test")
        async with first, second:
            reply = await first.post("/v1/documents", files=_slow_upload())
            assert reply.status_code == 202, reply.text
            url = reply.json()["status_url"]
            seen = (await second.get(url)).json()
            assert seen["status"] == "running" and seen["files"] == ["zephyrite.md"], seen
            release.set()
            await _until_ended(first, url)
            done = await _until_ended(second, url)
            assert done["status"] == "done" and done["result"]["files"][0]["status"] == "indexed"
            for bad in ("upload-..", "..%2F..%2Fpeace", "upload-" + "0" * 32):
                assert (await second.get(f"/v1/documents/jobs/{bad}")).status_code == 404

    asyncio.run(scenario())


def test_a_job_whose_worker_stopped_reads_as_failed(served: tuple[Any, threading.Event]) -> None:
    import json
    import subprocess

    app, _ = served
    ended = subprocess.Popen(["true"])
    ended.wait()  # reaped: its process id belongs to no process any more
    folder = app.state.rag.jobs.folder
    folder.mkdir(parents=True, exist_ok=True)
    job_id = "upload-" + "a" * 32
    (folder / f"{job_id}.json").write_text(json.dumps({"id": job_id, "object": "upload.job", "status": "running",
                                                        "worker": ended.pid, "result": None, "error": None}))

    async def scenario() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            reply = await client.get(f"/v1/documents/jobs/{job_id}")
            assert reply.status_code == 200, reply.text
            state: dict[str, Any] = reply.json()
            return state

    state = asyncio.run(scenario())
    assert state["status"] == "failed"
    assert state["error"]["message"] == (f"the worker that took this upload (process {ended.pid}) stopped before it "
                                         "ended; list the documents to see what was done")


def test_a_disk_that_fills_while_an_upload_is_received_is_a_507_and_leaves_no_copies(
        served: tuple[Any, threading.Event], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = served

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", full)

    async def scenario() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/documents", files=[
                ("files", ("solar.md", b"# Solar\n\nSolar panels turn sunlight into electricity.\n", "text/markdown"))])

    reply = asyncio.run(scenario())
    assert reply.status_code == 507, reply.text  # the server's disk, as for a full index: not a 500
    assert reply.json()["error"]["message"].startswith("the disk holding the upload folder ")
    assert list((tmp_path / "index" / "uploads" / "docs").iterdir()) == []
