"""Every failure as JSON with one sentence, in OpenAI's error shape so chat clients show it.

``{"error": {"message": "...", "type": "...", "code": ...}}``
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

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


class ClientGone(Exception):
    """The client disconnected before its answer was finished: nobody would read the rest."""


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
    if isinstance(exc, ClientGone):  # nginx's 499, "client closed request": nobody receives it
        return ApiError(499, "the client closed the connection before its answer was finished", "client_closed")
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


def invalid_sentence(error: Mapping[str, Any], content_type: str | None) -> str:
    """One sentence for the first problem FastAPI found in a request (``error``: pydantic's shape).

    >>> invalid_sentence({"type": "json_invalid", "loc": ("body", 20), "ctx": {"error": "Expecting value"}}, None)
    'the request body is not valid JSON (Expecting value at position 20)'
    >>> invalid_sentence({"type": "model_attributes_type", "loc": ("body",)}, "application/x-www-form-urlencoded")
    "the request body must be JSON sent with 'Content-Type: application/json', not 'application/x-www-form-urlencoded'"
    >>> invalid_sentence({"type": "missing", "loc": ("body", "question"), "msg": "Field required"}, None)
    'question: Field required'
    """
    kind, loc = error.get("type"), tuple(error.get("loc", ()))
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "JSON decode error")
        at = f" at position {loc[1]}" if len(loc) > 1 else ""
        return f"the request body is not valid JSON ({reason}{at})"
    if kind == "model_attributes_type" and loc == ("body",):
        # FastAPI reads a body as JSON only when its Content-Type says so (curl -d sends a form's).
        media = (content_type or "application/json").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            return f"the request body must be JSON sent with 'Content-Type: application/json', not {media!r}"
        return "the request body must be a JSON object"
    where = ".".join(str(p) for p in loc if p != "body") or "the request"
    return f"{where}: {error.get('msg', 'invalid value')}"


def install_handlers(app: FastAPI) -> None:
    """Route every error through ``response_for`` (FastAPI's own ones included)."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        return response_for(exc)

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        first = exc.errors()[0] if isinstance(exc, RequestValidationError) and exc.errors() else {}
        return response_for(ApiError(400, invalid_sentence(first, request.headers.get("content-type"))))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's words: "There was an error parsing the body"
            detail = f"the request body is not valid JSON: it is not UTF-8 text (byte {exc.__cause__.start})"
        kind = "not_found_error" if status == 404 else "invalid_request_error"
        return response_for(ApiError(status, str(detail), kind))

    # Known failures by class: a handler for ``Exception`` alone runs in Starlette's outermost layer,
    # which re-raises after answering and drops the connection.
    known: list[type[Exception]] = [ApiError, ClientGone, *(kind for kind, _, _ in _STATUS)]
    for kind in known:
        app.add_exception_handler(kind, on_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_error)
