"""The Gradio app: chat with checked citations, documents, settings.

>>> from rag import Assistant                        # doctest: +SKIP
>>> demo = build_app(Assistant("./index"))           # doctest: +SKIP
>>> launch_app(demo, host="127.0.0.1", port=7860)    # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gradio as gr

from rag import SUPPORTED_SUFFIXES
from rag.llm.registry import BACKENDS
from ui import render
from ui.assets import CSS, HEAD, make_theme
from ui.controller import ChatState, Controller, Notice, temp_dir_for

QUEUE_SIZE = 32  # pending events beyond this are refused with "queue full"
ANSWER_CONCURRENCY = 4  # answers run side by side; writes to the index run one at a time

_BACKEND_CHOICES = [(spec.label, spec.name) for spec in BACKENDS.values()]
_PLACEHOLDER = ("<div class='rag-empty' style='text-align:center'><strong>Ask a question about your documents."
                "</strong><br>Every sentence of the answer cites the passage it comes from, and every citation is "
                "checked. Add files under Documents.</div>")


def build_app(assistant: Any, *, upload_root: Path | None = None) -> gr.Blocks:
    """The whole UI around ``assistant``; launch it with ``launch_app``.

    Uploads arrive in ``<index>/ui-tmp`` (Gradio's temporary folder, unless ``GRADIO_TEMP_DIR`` is
    set) and are kept in ``<index>/uploads/<collection>/``, which is never served.
    """
    os.environ.setdefault("GRADIO_TEMP_DIR", str(temp_dir_for(assistant.settings.index_dir)))
    ctl = Controller(assistant, upload_root=upload_root)
    s = assistant.settings

    with gr.Blocks(title="rag · ask your documents", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        chat_state = gr.State(ChatState())
        gr.HTML("<div id='rag-header'><h1>Ask your documents</h1><span class='rag-tagline'>Answers quoted from "
                "your own files: every sentence cited, every citation checked.</span></div>", padding=False)
        status = gr.HTML(_status(ctl), padding=False, elem_id="rag-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=480):
                chatbot = gr.Chatbot(
                    value=[], show_label=False, elem_id="rag-chat", height="calc(100vh - 250px)", min_height=420,
                    render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False, buttons=[],
                    feedback_options=None, group_consecutive_messages=False, placeholder=_PLACEHOLDER,
                    allow_file_downloads=False, layout="bubble")
                with gr.Row(equal_height=True):
                    question = gr.Textbox(show_label=False, placeholder="Ask a question about your documents…",
                                          lines=1, max_lines=6, submit_btn="Ask", scale=8, elem_id="rag-question",
                                          autofocus=True)
                    new_chat = gr.Button("New chat", variant="secondary", scale=0, min_width=130,
                                         elem_id="rag-new-chat")
            with gr.Column(scale=2, min_width=340, elem_id="rag-side"), gr.Tabs():
                with gr.Tab("Documents", elem_id="rag-documents-tab"):
                    upload = gr.File(label="Add documents (drag and drop, several at once)",
                                     file_count="multiple", file_types=sorted(SUPPORTED_SUFFIXES),
                                     elem_id="rag-upload")
                    gr.HTML(f"<div class='rag-hint'>{', '.join(sorted(SUPPORTED_SUFFIXES))} · up to "
                            f"{s.max_file_mb:g} MB each · indexed as soon as they arrive</div>", padding=False)
                    notice = gr.HTML("", elem_id="rag-notice", padding=False)
                    docs = gr.HTML(render.render_documents(ctl.sources()), elem_id="rag-docs", padding=False)
                    gr.HTML("<div class='rag-label'>Remove a document</div>", padding=False)
                    with gr.Group(elem_id="rag-remove-group"), gr.Row(equal_height=True):
                        doc_choice = gr.Dropdown(choices=_doc_choices(ctl), value=None, show_label=False,
                                                 container=False, scale=4, elem_id="rag-remove-choice")
                        remove_btn = gr.Button("Remove document", variant="stop", scale=2, min_width=150,
                                               size="md", elem_id="rag-remove")
                with gr.Tab("Settings", elem_id="rag-settings-tab"):
                    k = gr.Slider(1, 20, value=s.k, step=1, label="Passages to retrieve (k)")
                    strict = gr.Checkbox(value=s.strict, label="Strict mode: drop sentences the sources do "
                                         "not support")
                    backend = gr.Radio(_BACKEND_CHOICES, value=s.backend, label="Answer backend")
                    llm = s.backend == "openai"
                    base_url = gr.Textbox(s.llm_base_url or "", label="Server URL", visible=llm,
                                          placeholder="http://127.0.0.1:11434/v1")
                    model = gr.Textbox(s.llm_model or "", label="Model name", visible=llm,
                                       placeholder="e.g. qwen2.5:3b")
                    api_key = gr.Textbox("", label="API key (leave empty to keep the current one)",
                                         type="password", visible=llm)
                    gguf = gr.Textbox(s.gguf_path or "", label="GGUF file (empty: the bundled SmolLM2)",
                                      visible=s.backend == "gguf", placeholder="/path/to/model.gguf")
                    collection = gr.Textbox(s.collection, label="Collection")
                    apply_btn = gr.Button("Apply backend and collection", variant="primary",
                                          elem_id="rag-apply")
                    settings_notice = gr.HTML("", elem_id="rag-settings-notice", padding=False)

        # ---- events: answering runs concurrently, writes to the index one at a time ----
        def respond(q: str, state: ChatState, k_value: float, strict_value: bool) -> Any:
            for messages, new_state in ctl.respond(q, state, int(k_value), bool(strict_value)):
                yield messages, "", new_state

        question.submit(respond, [question, chat_state, k, strict], [chatbot, question, chat_state],
                        api_visibility="private", concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY)
        new_chat.click(lambda: ([], ChatState(), ""), None, [chatbot, chat_state, question],
                       api_visibility="private", queue=False)
        chatbot.clear(lambda: ChatState(), None, chat_state, api_visibility="private", queue=False)

        def on_upload(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
            result = ctl.upload(files, progress=lambda f, d: progress(f, desc=d))
            return (None, result.html(), *_documents_view(ctl))

        doc_outputs = [docs, doc_choice, status]
        upload.upload(on_upload, upload, [upload, notice, *doc_outputs], api_visibility="private",
                      concurrency_id="writer", concurrency_limit=1, show_progress_on=[notice, docs])

        def on_remove(source: str | None) -> Any:
            return (ctl.remove(source).html(), *_documents_view(ctl))

        remove_btn.click(on_remove, doc_choice, [notice, *doc_outputs], api_visibility="private",
                         concurrency_id="writer", concurrency_limit=1)

        def on_backend(choice: str) -> Any:
            return (gr.update(visible=choice == "openai"), gr.update(visible=choice == "openai"),
                    gr.update(visible=choice == "openai"), gr.update(visible=choice == "gguf"))

        backend.change(on_backend, backend, [base_url, model, api_key, gguf], api_visibility="private", queue=False)

        def on_apply(*values: str) -> Any:
            result: Notice = ctl.apply_settings(*values)
            return (result.html(), *_documents_view(ctl))

        apply_btn.click(on_apply, [backend, base_url, model, api_key, gguf, collection],
                        [settings_notice, *doc_outputs], api_visibility="private", concurrency_id="writer",
                        concurrency_limit=1)
        demo.load(lambda: _documents_view(ctl), None, doc_outputs, api_visibility="private")
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=ANSWER_CONCURRENCY)
    return demo


def launch_app(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
               max_file_mb: float = 50.0, inbrowser: bool = False, block: bool = True,
               blocked: list[str] | None = None) -> str:
    """Serve ``demo`` with the safe defaults; returns the local URL (blocks until Ctrl-C when ``block``)."""
    _, url, _ = demo.launch(
        server_name=host, server_port=port, auth=auth, inbrowser=inbrowser, prevent_thread_lock=True, quiet=True,
        max_file_size=int(max_file_mb * 1024 * 1024), allowed_paths=[], blocked_paths=blocked or [],
        enable_monitoring=False, ssr_mode=False, mcp_server=False, show_error=False, footer_links=[],
        theme=make_theme(), css=CSS, head=HEAD, favicon_path=None, pwa=False)
    if block:
        demo.block_thread()
    return str(url)


def mount_app(app: Any, demo: gr.Blocks, *, path: str = "/ui", auth: tuple[str, str] | None = None,
              max_file_mb: float = 50.0) -> Any:
    """Mount ``demo`` on an existing FastAPI ``app`` (``rag serve --ui``) with ``launch_app``'s safe defaults."""
    return gr.mount_gradio_app(
        app, demo, path=path, auth=auth, max_file_size=int(max_file_mb * 1024 * 1024), allowed_paths=[],
        blocked_paths=[], enable_monitoring=False, ssr_mode=False, mcp_server=False, show_error=False,
        footer_links=[], theme=make_theme(), css=CSS, head=HEAD, favicon_path=None, pwa=False)


def _doc_choices(ctl: Controller) -> list[tuple[str, str]]:
    sources = ctl.sources()
    names = [render.display_name(s) for s in sources]
    return [(f"{name} ({Path(src).parent.name})" if names.count(name) > 1 else name, src)
            for name, src in zip(names, sources, strict=True)]


def _status(ctl: Controller) -> str:
    sources = ctl.sources()
    return render.render_status(len(sources), sum(sources.values()), ctl.settings.backend, ctl.settings.collection)


def _documents_view(ctl: Controller) -> tuple[str, Any, str]:
    return (render.render_documents(ctl.sources()), gr.update(choices=_doc_choices(ctl), value=None), _status(ctl))
