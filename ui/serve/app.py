"""The FastAPI app of ``rag serve``: routes, keys, limits, errors, and the web UI with ``--ui``.

>>> from ui.serve.app import create_app                             # doctest: +SKIP
>>> app = create_app(ServeConfig(Settings.load()))                  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8080)                   # doctest: +SKIP

``app_from_env`` is the factory uvicorn calls in each worker process (``--workers N``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.serve.auth import key_checker
from ui.serve.collections import Collections
from ui.serve.config import CONFIG_ENV, ServeConfig
from ui.serve.errors import install_handlers
from ui.serve.gate import Gate
from ui.serve.jobs import Jobs
from ui.serve.limits import BodyLimit
from ui.serve.routes import ServerState, api, health

WRITE_QUEUE = 16

DESCRIPTION = """Answers from your own documents, every sentence cited and every citation checked.

Send `Authorization: Bearer <key>` (a key from `RAG_API_KEYS`) when the server has keys.
`POST /v1/chat/completions` is OpenAI-compatible (`model` names the collection); the checked
citations are in the `rag` field of the completion (of the last chunk when streaming).
Errors are `{"error": {"message", "type", "code"}}` with one sentence."""


def open_assistant(config: ServeConfig) -> Any:
    """The configured collection's ``Assistant``, warmed up (model loaded, keyword index built,
    backend started)."""
    from rag.assistant import Assistant

    return Assistant(settings=config.settings).warm_up()


def create_app(config: ServeConfig, assistant: Any | None = None) -> FastAPI:
    """The app for ``config``; ``assistant`` (default: opened from the settings) serves its collection."""
    assistant = assistant or open_assistant(config)
    app = FastAPI(title="rag", version="0.1.0", description=DESCRIPTION, docs_url="/docs", redoc_url=None)
    app.state.rag = ServerState(
        config=config, collections=Collections(assistant),
        answers=Gate("answers", config.max_concurrent, config.max_queue),
        writes=Gate("uploads or removals", 1, WRITE_QUEUE), write_lock=threading.Lock(),
        jobs=Jobs(Path(config.settings.index_dir).expanduser().resolve() / "uploads" / ".jobs"))
    install_handlers(app)
    app.include_router(api, dependencies=[Depends(key_checker(config.api_keys))])
    app.include_router(health)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes, upload_bytes=config.max_upload_bytes,
                       upload_path="/v1/documents")
    app.add_middleware(WorkerHeader)
    if config.mount_ui:
        _mount_ui(app, assistant, config)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory in every worker: the config comes from ``RAG_SERVE_CONFIG`` (set by ``rag serve``)."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start the server with 'rag serve'")
    return create_app(ServeConfig.from_json(text))


def _mount_ui(app: FastAPI, assistant: Any, config: ServeConfig) -> None:
    from ui.app import build_app, mount_app
    from ui.controller import parse_auth

    mount_app(app, build_app(assistant), path="/ui", auth=parse_auth(config.settings.ui_auth),
              max_file_mb=config.settings.max_file_mb)


class WorkerHeader:
    """ASGI middleware: ``X-Rag-Worker: <pid>`` on every response (which worker answered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.value = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-rag-worker", self.value)]
            await send(message)

        await self.app(scope, receive, tagged)
