"""``rag ui``: index optional paths, load the model once, serve the web UI on 127.0.0.1.

Registered through the ``rag.commands`` entry point. Gradio is imported only when the command
runs, so ``rag --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from rag.cli import CommandError, add_answer_options, add_common_options, settings_from
from rag.settings import is_loopback_host


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "ui", help="open the chat web UI", description="Serve the chat web UI. PATHs are indexed first "
        "(unchanged files are skipped). Set RAG_UI_AUTH=user:password to require a login.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to index before the server starts")
    add_common_options(p)
    add_answer_options(p)
    p.add_argument("--host", help="address to listen on (RAG_UI_HOST, default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, help="port (RAG_UI_PORT, default 7860)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    from ui.controller import parse_auth, temp_dir_for

    settings = settings_from(args)
    host = args.host or settings.ui_host
    port = args.port or settings.ui_port
    auth = parse_auth(settings.ui_auth)
    if auth is None and not is_loopback_host(host):
        print(f"rag ui: warning: serving on {host} without a login; set RAG_UI_AUTH=user:password", file=sys.stderr)
    # Before Gradio is imported: some of its modules read the variable at import time.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(temp_dir_for(settings.index_dir)))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    from rag.assistant import Assistant
    from rag.documents import require_index

    if not args.paths and not settings.chroma_url:
        require_index(settings.index_dir)  # nothing to index: a folder without an index is a typo, not a new one
    _say(out, f"opening the index in {settings.index_dir} (collection {settings.collection})")
    assistant = Assistant(settings=settings)
    if args.paths:
        _ingest(assistant, args.paths, out)
    _say(out, "loading the embedding model and the indexes" + ("" if settings.backend == "extractive" else
                                                                 f"; starting the {settings.backend} backend"))
    try:
        assistant.warm_up()
    except Exception as exc:
        if settings.backend == "extractive" or isinstance(exc, CommandError):
            raise
        raise CommandError(f"the {settings.backend} backend could not be started: {exc}") from None

    from ui.app import build_app, launch_app

    demo = build_app(assistant)
    try:
        url = launch_app(demo, host=host, port=port, auth=auth, max_file_mb=settings.max_file_mb,
                         inbrowser=not args.no_browser, block=False)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc}") from None
    _say(out, f"serving on {url}  (Ctrl-C to stop)")
    try:
        demo.block_thread()
    finally:
        demo.close()
    return 0


def _ingest(assistant: Any, paths: list[str], out: TextIO) -> None:
    def progress(stage: str, path: str, done: int, total: int) -> None:
        if stage == "read":
            _say(out, f"  [{done}/{total}] {Path(path).name}")
        elif stage == "failed":
            _say(out, f"  failed: {path}")

    _say(out, f"indexing {', '.join(paths)}")
    report = assistant.add(paths, progress=progress)
    _say(out, f"indexed: {report.files_added} added, {report.files_updated} updated, {report.files_unchanged} "
              f"unchanged, {len(report.files_failed)} failed; {report.chunks_total} passages in the index "
              f"({report.seconds:.1f} s)")


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()
