"""``rag serve``: the HTTP API (and, with ``--ui``, the web UI) on uvicorn.

Registered through the ``rag.commands`` entry point; FastAPI and uvicorn are imported only when
the command runs, so ``rag --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import socket
from typing import Any, TextIO

from rag.cli import CommandError, add_answer_options, add_common_options, settings_from
from rag.settings import SettingsError

DEFAULT_PORT = 8080
HELP = "serve the HTTP API (OpenAI-compatible chat, documents, retrieval)"
DESCRIPTION = ("Serve the HTTP API: /v1/ask, /v1/retrieve, /v1/chat/completions (OpenAI-compatible), /v1/documents, "
               "/v1/models, /healthz; docs at /docs. Keys come from RAG_API_KEYS (comma-separated) or --keys-file; "
               "a host other than 127.0.0.1 needs keys.")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("serve", help=HELP, description=DESCRIPTION)
    add_common_options(p)
    add_answer_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (above 1 needs a Chroma server: --chroma-url)")
    p.add_argument("--ui", action="store_true", help="also serve the web UI at /ui (one worker)")
    p.add_argument("--keys-file", metavar="FILE", help="API keys, one a line (RAG_API_KEYS_FILE)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="seconds an answer may take (504 after), and, before it, may wait for a slot (503 after)")
    p.add_argument("--upload-timeout", type=float, default=900.0, metavar="S",
                   help="seconds an upload waits for its files to be indexed; past that the reply is 202 with a "
                        "job whose state GET /v1/documents/jobs/ID gives, and indexing goes on")
    p.add_argument("--max-concurrent", type=int, default=4, metavar="N", help="answers at once per worker")
    p.add_argument("--max-queue", type=int, default=64, metavar="N",
                   help="requests that may wait per worker; more get 503")
    p.set_defaults(handler=run)


def build_config(args: argparse.Namespace, env: dict[str, str] | os._Environ[str]) -> Any:
    """The ``ServeConfig`` for the command line (keys from the environment), or ``CommandError``."""
    from ui.serve.config import ServeConfig, deployment_problem, load_keys

    for name in ("workers", "timeout", "upload_timeout", "max_concurrent", "max_queue"):
        if getattr(args, name) <= 0:
            raise CommandError(f"--{name.replace('_', '-')} must be above 0", code=2)
    try:
        keys = load_keys(env.get("RAG_API_KEYS"), args.keys_file or env.get("RAG_API_KEYS_FILE"))
    except SettingsError as exc:
        raise CommandError(str(exc), code=2) from None
    config = ServeConfig(settings=settings_from(args), api_keys=keys, timeout_s=args.timeout,
                         upload_timeout_s=args.upload_timeout,
                         max_concurrent=args.max_concurrent, max_queue=args.max_queue, mount_ui=args.ui)
    problem = deployment_problem(args.host, args.workers, config)
    if problem:
        raise CommandError(problem, code=2)
    return config


def run(args: argparse.Namespace, out: TextIO) -> int:
    config = build_config(args, os.environ)
    if not config.settings.chroma_url:  # a Chroma server's collection is made on first use and filled by uploads
        from rag.documents import require_index

        require_index(config.settings.index_dir)  # a typo in --index must not serve a new, empty index
    check_can_listen(args.host, args.port)  # before the model loads, in our sentence
    from ui.controller import temp_dir_for
    from ui.serve.config import CONFIG_ENV

    os.environ[CONFIG_ENV] = config.to_json()  # read by every worker (uvicorn starts them as new processes)
    os.environ.setdefault("GRADIO_TEMP_DIR", str(temp_dir_for(config.settings.index_dir)))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    where = base_url(args.host, args.port)
    keys = f"{len(config.api_keys)} API key(s)" if config.api_keys else "no API keys (loopback only)"
    _say(out, f"rag serve: {where} with {args.workers} worker(s), {keys}; docs at {where}/docs"
         + (f", web UI at {where}/ui" if config.mount_ui else ""))
    # Past this point a limit on open connections backs up the per-worker queues (uvicorn's own 503).
    connections = 2 * (config.max_concurrent + config.max_queue) + 16
    try:
        if args.workers == 1:
            from ui.serve.app import create_app

            _say(out, f"opening the index and loading the model (collection {config.settings.collection})")
            uvicorn.run(create_app(config), host=args.host, port=args.port, limit_concurrency=connections,
                        log_level="warning", timeout_graceful_shutdown=5)
        else:
            uvicorn.run("ui.serve.app:app_from_env", factory=True, host=args.host, port=args.port,
                        workers=args.workers, limit_concurrency=connections, log_level="warning",
                        timeout_graceful_shutdown=5)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def base_url(host: str, port: int) -> str:
    """The address a client uses (an IPv6 host in brackets, or the URL does not parse).

    >>> base_url("127.0.0.1", 8080), base_url("::1", 8080)
    ('http://127.0.0.1:8080', 'http://[::1]:8080')
    """
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_can_listen(host: str, port: int) -> None:
    """``CommandError`` in one sentence when ``host:port`` cannot be listened on. uvicorn finds out
    only after the model has loaded, logs its own line and exits 3, the code that means an
    unreachable Chroma server. Bound as uvicorn binds (SO_REUSEADDR), then let go.

    >>> check_can_listen("127.0.0.1", 0)
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CommandError(f"cannot listen on {host}:{port}: {reason}") from None


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()
