"""Every failure as JSON with one sentence, in OpenAI's error shape so chat clients show it.

``{"error": {"message": "...", "type": "...", "code": ...}}``
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (
    BackendError,
    DiskFullError,
    EmbeddingServerError,
    IndexBusyError,
    IndexDamagedError,
    IndexMismatchError,
    IndexReadOnlyError,
    RagError,
    StoreUnavailableError,
    UsageError,
)

log = logging.getLogger("rag.serve")

# Known failures of the layers below, by the HTTP status that tells the client what to do.
_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (UsageError, 400, "invalid_request_error"),  # a bad setting or k, "the question is empty", a bad name
    (IndexBusyError, 409, "index_busy"),
    (StoreUnavailableError, 503, "store_unavailable"),
    (EmbeddingServerError, 503, "embedding_server_unavailable"),
    (BackendError, 502, "backend_error"),
    (IndexMismatchError, 500, "index_mismatch"),
    (DiskFullError, 507, "insufficient_storage"),  # the server's disk: nothing the request can change
    (IndexReadOnlyError, 503, "index_read_only"),
    (IndexDamagedError, 500, "index_damaged"),  # the operator runs `rag repair`
    (RagError, 400, "invalid_request_error"),  # any other problem the user can fix, in its own sentence
)


class ApiError(Exception):
    """A failure to send as JSON: ``status``, one-sentence ``message``, OpenAI-style ``kind``."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.headers = status, message, kind, code, headers


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, object]:
    """OpenAI's error object.

    >>> error_body("there is no collection 'x'", "not_found_error", "model_not_found")["error"]["code"]
    'model_not_found'
    """
    return {"error": {"message": message, "type": kind, "code": code}}


def as_api_error(exc: Exception) -> ApiError:
    """The ``ApiError`` for any exception: known failures keep their sentence, others become a 500."""
    if isinstance(exc, ApiError):
        return exc
    # An interrupted ingest says what was written; its cause (a full disk, a dead server) sets the status.
    cause = getattr(exc, "cause", None)
    decides = cause if isinstance(cause, RagError) else exc
    for kind, status, name in _STATUS:
        if isinstance(decides, kind):
            return ApiError(status, str(exc), name)
    log.exception("unexpected error", exc_info=exc)
    return ApiError(500, f"the server failed ({type(exc).__name__}); the server log has the details",
                    "server_error")


def response_for(exc: Exception) -> JSONResponse:
    err = as_api_error(exc)
    return JSONResponse(error_body(err.message, err.kind, err.code), status_code=err.status, headers=err.headers)


def install_handlers(app: FastAPI) -> None:
    """Route every error through ``response_for`` (FastAPI's own ones included)."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        return response_for(exc)

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        first = exc.errors()[0] if isinstance(exc, RequestValidationError) and exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "the request"
        return response_for(ApiError(400, f"{where}: {first.get('msg', 'invalid value')}"))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
        kind = "not_found_error" if status == 404 else "invalid_request_error"
        return response_for(ApiError(status, str(detail), kind))

    # Known failures by class: a handler for ``Exception`` alone runs in Starlette's outermost layer,
    # which re-raises after answering and drops the connection.
    known: list[type[Exception]] = [ApiError, *(kind for kind, _, _ in _STATUS)]
    for kind in known:
        app.add_exception_handler(kind, on_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_error)
