"""Request body limits, enforced while the body arrives (a lying or absent Content-Length included)."""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.serve.errors import error_body


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for bodies over ``max_bytes`` (``upload_bytes`` for ``POST upload_path``)."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int, upload_path: str) -> None:
        self.app, self.max_bytes, self.upload_bytes, self.upload_path = app, max_bytes, upload_bytes, upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"] == self.upload_path
        limit = self.upload_bytes if upload else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, limit, upload)
            return
        seen = 0
        started = rejected = False

        async def counted() -> Message:
            nonlocal seen, rejected
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer now: FastAPI turns any error while reading the body into its own 400.
                    if not started and not rejected:
                        rejected = True
                        await _reject(send, limit, upload)
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 has been sent; whatever the app says after it is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):  # already answered with 413
            await self.app(scope, counted, tracked)


async def _reject(send: Send, limit: int, upload: bool) -> None:
    what = "the upload" if upload else "the request body"
    body = json.dumps(error_body(f"{what} is larger than the limit of {limit / 1e6:.1f} MB",
                                 "request_too_large")).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
