"""The HTTP API's routes: answers (ask, retrieve, OpenAI chat, models), documents and health.

Every route does its blocking work in a thread under a ``Gate`` (answers side by side, writes
one at a time per worker) and keeps nothing between requests: what a request needs is in its
body and in the values it computes.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from rag.retrieve.hybrid import check_k, check_sources
from ui.serve import openai_chat
from ui.serve.abandoned import enter_for_client, final_answer, mark_retrieved, run_for_client
from ui.serve.collections import Collections
from ui.serve.config import ServeConfig
from ui.serve.documents import document_id, index_files, place, receive, safe_name
from ui.serve.errors import ApiError, as_api_error, error_body
from ui.serve.gate import Gate
from ui.serve.jobs import Job, Jobs, new_job_id
from ui.serve.schemas import AskRequest, ChatRequest, RetrieveRequest

KEEP_ALIVE_S = 10.0


@dataclass(frozen=True)
class ServerState:
    """What every request of one worker shares (set once at start-up, never changed per request)."""

    config: ServeConfig
    collections: Collections
    answers: Gate
    writes: Gate
    write_lock: threading.Lock  # writes from this worker's threads go one at a time
    jobs: Jobs  # uploads whose ingest outlived --upload-timeout


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.rag
    return state


api = APIRouter()
health = APIRouter()
State = Depends(get_state)


def _open(state: ServerState, collection: str | None, k: int | None, sources: list[str] | None = None
          ) -> tuple[Any, int | None, tuple[str, ...] | None]:
    """The collection's ``Assistant``, the checked ``k`` and the indexed paths ``sources`` names
    (blocking: Chroma is asked), so a stream starts only for a request that can be answered."""
    assistant = state.collections.get(collection)
    checked_k = None if k is None else check_k(k, assistant.store.count())
    wanted = None if sources is None else check_sources(sources, assistant.retriever.keyword.snapshot().sources)
    return assistant, checked_k, wanted


# ---- answers -------------------------------------------------------------------------------------

@api.post("/v1/ask", summary="A checked answer: Answer.to_dict() (text with [n], citations, verdicts)")
async def ask(body: AskRequest, request: Request, state: ServerState = State) -> dict[str, Any]:
    gone = threading.Event()  # the client left, or the answer outlived --timeout: stop it

    def work() -> dict[str, Any]:
        assistant, k, sources = _open(state, body.collection, body.k, body.sources)
        stream = assistant.ask_stream(body.question, k=k, strict=body.strict, sources=sources, history=body.history)
        return dict(final_answer(stream, gone).to_dict())

    return await run_for_client(state.answers, work, state.config.timeout_s, request.receive, gone)


@api.post("/v1/retrieve", summary="The passages hybrid retrieval finds, best first, with their scores")
async def retrieve(body: RetrieveRequest, state: ServerState = State) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        assistant, k, sources = _open(state, body.collection, body.k, body.sources)
        hits = assistant.retrieve(body.question, k=k, sources=sources)
        return {"question": body.question, "hits": [h.to_dict() for h in hits]}

    return await state.answers.run(work, state.config.timeout_s)


@api.get("/v1/models", summary="The collections, as OpenAI models (a chat request's model names one)")
async def models(state: ServerState = State) -> dict[str, Any]:
    names = await state.answers.run(state.collections.names, state.config.timeout_s)
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "rag"} for n in names]}


@api.post("/v1/chat/completions", summary="OpenAI-compatible chat over a collection (model = collection)",
          response_model=None)
async def chat_completions(body: ChatRequest, request: Request,
                           state: ServerState = State) -> JSONResponse | StreamingResponse:
    question, history = openai_chat.question_and_history(body.messages)
    openai_chat.check_n(body.n)
    openai_chat.check_stream_options(body.stream, body.stream_options)
    # 404 / 400 before any stream
    assistant, k, sources = await run_in_threadpool(_open, state, body.model, body.k, body.sources)

    gone = threading.Event()  # the client left, or the answer outlived --timeout: stop it

    def work() -> tuple[Any, dict[str, int]]:  # counted here too: tiktoken over a 1 MB body is not for the event loop
        stream = assistant.ask_stream(question, k=k, strict=body.strict, sources=sources, history=history)
        answer = final_answer(stream, gone)
        return answer, openai_chat.usage(body.messages, answer)

    if not body.stream:
        answer, usage = await run_for_client(state.answers, work, state.config.timeout_s, request.receive, gone)
        return JSONResponse(openai_chat.completion(answer, body.model, usage))
    # A full queue, or a wait past --timeout, is a 503 status, not an error inside a stream.
    await enter_for_client(state.answers, state.config.timeout_s, request.receive)  # a client gone meanwhile: 499
    task = asyncio.ensure_future(state.answers.run(work, state.config.timeout_s, entered=True, abandon=gone))
    task.add_done_callback(mark_retrieved)  # a client that left reads no error
    wants_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(_events(task, body.model, wants_usage, gone), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(task: asyncio.Future[Any], model: str, wants_usage: bool, gone: threading.Event) -> Any:
    try:
        while not task.done():
            done, _ = await asyncio.wait({task}, timeout=KEEP_ALIVE_S)
            if not done:
                yield openai_chat.KEEP_ALIVE
    finally:
        if not task.done():  # the client left (Starlette closed this generator): stop the answer
            gone.set()
    try:
        answer, usage = task.result()
    except Exception as exc:  # the status line is gone: the error travels as an event, as OpenAI sends it
        err = as_api_error(exc)
        yield openai_chat.sse(error_body(err.message, err.kind, err.code))
    else:
        for chunk in openai_chat.chunks(answer, model, usage if wants_usage else None):
            yield openai_chat.sse(chunk)
    yield openai_chat.sse("[DONE]")


# ---- documents -----------------------------------------------------------------------------------

def _upload_dir(state: ServerState, collection: str) -> Path:
    """``<index>/uploads/<collection>/``, where the web UI keeps its uploads too."""
    return Path(state.config.settings.index_dir).expanduser().resolve() / "uploads" / safe_name(collection)


@api.get("/v1/documents", summary="Indexed files with their ids and passage counts")
async def list_documents(collection: str | None = None, state: ServerState = State) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        assistant = state.collections.get(collection)
        return {"collection": assistant.settings.collection,
                "documents": [{"id": document_id(src), "name": Path(src).name, "source": src, "passages": n}
                              for src, n in assistant.sources().items()]}

    return await state.answers.run(work, state.config.timeout_s)


@api.post("/v1/documents", summary="Upload and index files (multipart 'files'); a result for every file, or "
         "202 with a job when indexing outlives --upload-timeout", response_model=None)
async def upload_documents(files: list[UploadFile] = File(...), collection: str | None = Form(None),  # noqa: B008
                           state: ServerState = State) -> dict[str, Any] | JSONResponse:
    limit = state.config.max_upload_files
    if len(files) > limit:
        raise ApiError(400, f"{len(files)} files in one upload; send at most {limit}")
    assistant = await run_in_threadpool(state.collections.get, collection, True)
    name = str(assistant.settings.collection)
    upload_dir = _upload_dir(state, name)
    # On disk first: the request's files are closed once it is answered, and the ingest may outlive it.
    received = await run_in_threadpool(receive, [(f.filename or "", f.file) for f in files], upload_dir,
                                       assistant.settings.max_bytes)
    job_id, started = new_job_id("upload"), threading.Event()

    def work() -> dict[str, Any]:
        started.set()
        state.jobs.save(job_id)  # "running" for the other workers, if it is a job by now
        try:
            with state.write_lock:
                indexed = index_files(assistant, place(received, upload_dir))
        finally:
            received.discard()
        outcomes = [o for _, o in sorted([*indexed, *received.refused], key=lambda p: p[0])]
        ok = sum(o.status in ("indexed", "unchanged") for o in outcomes)
        return {"collection": name, "indexed": ok, "failed": len(outcomes) - ok,
                "files": [o.to_dict() for o in outcomes]}

    try:
        future = state.writes.start(work)
    except ApiError:
        received.discard()  # 503: never queued
        raise
    return await _result_or_job(state, Job(job_id, name, tuple(f.filename or "" for f in files), future, started))


async def _result_or_job(state: ServerState, job: Job) -> dict[str, Any] | JSONResponse:
    """The write's result when it ends within ``--upload-timeout`` (queueing included); else 202
    with ``job``, which goes on."""
    try:
        return await asyncio.wait_for(asyncio.shield(job.future), state.config.upload_timeout_s)
    except TimeoutError:  # the write goes on: say so, and where to see how it ends
        state.jobs.add(job)
        now = job.state()
        told = "what happened to each file" if job.kind == "upload" else "how many passages were removed"
        return JSONResponse(status_code=202, headers={"Location": job.url}, content={
            **now, "message": f"the {job.kind} is still {now['status']} after {state.config.upload_timeout_s:g} s "
            f"and goes on in the background; GET {job.url} says when it is done and {told}"})


@api.get("/v1/documents/jobs/{job_id}", summary="An upload or removal that outlived --upload-timeout: queued, "
         "running, done (with its result) or failed (with its error)")
async def document_job(job_id: str, state: ServerState = State) -> dict[str, Any]:
    found = await run_in_threadpool(state.jobs.get, job_id)
    if found is None:
        raise ApiError(404, f"there is no job {job_id[:80]!r} (the last {state.jobs.keep} finished jobs of each "
                            "worker are kept)", "not_found_error")
    return found


@api.delete("/v1/documents/{doc_id}", summary="Remove one indexed file (its id from GET /v1/documents); 202 "
           "with a job when it waits behind a write past --upload-timeout", response_model=None)
async def delete_document(doc_id: str, collection: str | None = None,
                          state: ServerState = State) -> dict[str, Any] | JSONResponse:
    def find() -> tuple[Any, str]:  # a 404 now, not a job that fails with it later
        assistant = state.collections.get(collection)
        source = next((s for s in assistant.sources() if document_id(s) == doc_id), None)
        if source is None:
            raise ApiError(404, f"there is no document {doc_id!r} in collection {assistant.settings.collection!r}",
                           "not_found_error")
        return assistant, source

    assistant, source = await run_in_threadpool(find)
    job_id, started = new_job_id("removal"), threading.Event()

    def work() -> dict[str, Any]:
        started.set()
        state.jobs.save(job_id)
        with state.write_lock:
            removed = assistant.remove(source)
            copy = Path(source)
            if copy.parent == _upload_dir(state, assistant.settings.collection):
                copy.unlink(missing_ok=True)
        return {"id": doc_id, "source": source, "removed_passages": removed}

    # Writes take turns: behind a long upload, a removal waits too, and becomes a job past the timeout.
    future = state.writes.start(work)
    return await _result_or_job(state, Job(job_id, str(assistant.settings.collection), (Path(source).name,),
                                           future, started))


# ---- health --------------------------------------------------------------------------------------

@health.get("/healthz", summary="Index readable, model loaded, backend reachable (503 when one is not)")
async def healthz(state: ServerState = State) -> JSONResponse:
    checks = await run_in_threadpool(_checks, state)
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ok" if ok else "failing", "checks": checks}, status_code=200 if ok else 503)


def _checks(state: ServerState) -> dict[str, dict[str, Any]]:
    assistant = state.collections.get()
    out: dict[str, dict[str, Any]] = {}
    def index() -> str:
        return f"{assistant.store.count()} passages in {assistant.settings.collection!r}"

    def model() -> str:
        vector = assistant.query_embedder.embed(["health check"])[0]
        return f"{assistant.embedder.name} embeds ({len(vector)} dimensions)"

    for name, probe in (("index", index), ("model", model), ("backend", lambda: _backend(assistant))):
        try:
            out[name] = {"ok": True, "detail": probe()}
        except Exception as exc:
            out[name] = {"ok": False, "detail": as_api_error(exc).message}
    return out


def _backend(assistant: Any) -> str:
    settings = assistant.settings
    if settings.backend == "openai":  # asks the server for its models; nothing is generated
        from rag.llm.backends import check_backend

        return str(check_backend(settings))
    if settings.backend == "gguf":
        return f"{assistant.generator.name} loaded in this process"
    return "extractive (no model needed)"
