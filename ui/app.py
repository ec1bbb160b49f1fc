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
from ui import history, render
from ui.assets import (
    CHAT_OPENED,
    CLEAR_QUESTION,
    CSS,
    HEAD,
    KEEP_APPLIED,
    KEEP_K,
    KEEP_STRICT,
    READ_CHAT,
    READ_CHATS,
    READ_ONE_CHAT,
    REMEMBER_CHAT,
    RESTORE_DARK,
    SAVE_CHATS,
    SHOW_VIEWER,
    TOGGLE_DARK,
    make_theme,
)
from ui.controller import ChatState, Controller, Notice, browser_secret, temp_dir_for
from ui.page_settings import K_RANGE, KeptSettings
from ui.session import SessionSettings

QUEUE_SIZE = 32  # pending events beyond this are refused with "queue full"
ANSWER_CONCURRENCY = 4  # answers run side by side; writes to the index run one at a time

_BACKEND_CHOICES = [(spec.label, spec.name) for spec in BACKENDS.values()]
_ASK = "Ask a question about your documents…"
_LOADING = "Loading your documents…"
_RESTORING = "Applying this page's settings again…"
_FOCUS_QUESTION = "() => { document.querySelector('#rag-question textarea')?.focus(); }"
_PLACEHOLDER = ("<div class='rag-empty' style='text-align:center'><strong>Ask a question about your documents."
                "</strong><br>Every sentence of the answer cites the passage it comes from, and every citation is "
                "checked. Add files under Documents.</div>")


def build_app(assistant: Any, *, upload_root: Path | None = None) -> gr.Blocks:
    """The whole UI around ``assistant``; launch it with ``launch_app``.

    Every page has its own settings (backend, collection, k, strict mode, document filter) and
    conversation; the server's settings are where each page starts. Conversations are kept in the
    browser (localStorage, shared by its tabs: see ``ui.history``). Uploads arrive in
    ``<index>/ui-tmp`` (Gradio's temporary folder, unless ``GRADIO_TEMP_DIR`` is set) and are kept
    in ``<index>/uploads/<collection>/``, which is never served.
    """
    os.environ.setdefault("GRADIO_TEMP_DIR", str(temp_dir_for(assistant.settings.index_dir)))
    ctl = Controller(assistant, upload_root=upload_root)
    s = assistant.settings

    with gr.Blocks(title="rag · ask your documents", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        session = gr.State(ctl.defaults)
        chat_state = gr.State(ChatState())
        # Where conversations were kept before (Gradio's BrowserState): read once, moved to our own key.
        legacy = gr.BrowserState([], storage_key="rag-chats", secret=browser_secret(s.index_dir))
        gr.HTML("<a class='rag-skip' href='#rag-chat'>Skip to the latest answer</a>", padding=False)
        with gr.Row(elem_id="rag-top", equal_height=True):
            gr.HTML("<div id='rag-header'><h1>Ask your documents</h1><span class='rag-tagline'>Answers quoted from "
                    "your own files: every sentence cited, every citation checked.</span></div>", padding=False)
            dark = gr.Button("◐ Dark mode", size="sm", scale=0, min_width=120, variant="secondary",
                             elem_id="rag-dark")
        status = gr.HTML(_status(ctl, ctl.defaults), padding=False, elem_id="rag-status")
        with gr.Row(equal_height=False, elem_id="rag-main"):
            with gr.Column(scale=3, min_width=300, elem_id="rag-chat-column"):
                chatbot = gr.Chatbot(
                    value=[], show_label=False, elem_id="rag-chat", height="calc(100vh - 250px)", min_height=420,
                    render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False, buttons=[],
                    feedback_options=None, group_consecutive_messages=False, placeholder=_PLACEHOLDER,
                    allow_file_downloads=False, layout="bubble")
                # Closed until the page's load handler has restored its chat: that handler writes the
                # chat, so a question asked before it finished vanished with its answer (measured: every
                # question asked the moment the box appeared, on a 127-document index).
                question = gr.Textbox(show_label=False, placeholder=_LOADING, interactive=False,
                                      lines=1, max_lines=6, submit_btn="Ask", elem_id="rag-question", autofocus=True)
                with gr.Column(visible=False, elem_id="rag-viewer") as viewer:
                    with gr.Row(equal_height=True):
                        gr.HTML("<div class='rag-label'>The cited place in its document</div>", padding=False)
                        close_viewer = gr.Button("Close", size="sm", scale=0, min_width=80,
                                                 elem_id="rag-viewer-close")
                    viewer_text = gr.HTML("", padding=False, elem_id="rag-viewer-text")
                    viewer_page = gr.Image(None, type="pil", interactive=False, show_label=False, visible=False,
                                           buttons=["fullscreen"], elem_id="rag-viewer-page", format="png")
                # The page script writes "answer:marker" here when "Show in document" is pressed.
                view_request = gr.Textbox("", elem_id="rag-view-request", elem_classes=["rag-hidden"],
                                          show_label=False, container=False)
                # The id of the chat this page is in, kept in the tab's sessionStorage: a reload reopens it.
                chat_id = gr.Textbox("", elem_id="rag-chat-id", elem_classes=["rag-hidden"], show_label=False,
                                     container=False)
                # The settings this tab kept across reloads (ui.page_settings): read at load, and what Apply
                # applied, written here for the page script to keep.
                kept = gr.Textbox("", elem_id="rag-kept-settings", elem_classes=["rag-hidden"], show_label=False,
                                  container=False)
                # The conversations kept in this browser, as the page script last read them from localStorage
                # (ui.history): their listing (ids, titles, sizes); the conversations themselves only at load;
                # and the one change to merge into them (written here, merged by the script).
                store = gr.Textbox("", elem_id="rag-store", elem_classes=["rag-hidden"], show_label=False,
                                   container=False)
                loaded = gr.Textbox("", elem_id="rag-loaded", elem_classes=["rag-hidden"], show_label=False,
                                    container=False)
                save = gr.Textbox("", elem_id="rag-save", elem_classes=["rag-hidden"], show_label=False,
                                  container=False)
                refresh_chats = gr.Button("Refresh", elem_id="rag-chats-refresh", elem_classes=["rag-hidden"])
                with gr.Row(equal_height=True, elem_id="rag-chat-actions"):
                    stop = gr.Button("■ Stop", variant="secondary", size="sm", min_width=80, elem_id="rag-stop")
                    # Regenerate, uploads and removal wait, as Apply does, for the page's own settings (``on_restore``):
                    # before them they would go to the server's backend and collection.
                    regenerate = gr.Button("↻ Regenerate", variant="secondary", size="sm", min_width=110,
                                           elem_id="rag-regenerate", interactive=False)
                    new_chat = gr.Button("+ New chat", variant="secondary", size="sm", min_width=110,
                                         elem_id="rag-new-chat")
            with gr.Column(scale=2, min_width=300, elem_id="rag-side"), gr.Tabs():
                with gr.Tab("Documents", elem_id="rag-documents-tab"):
                    upload = gr.File(label="Add documents (drag and drop, several at once)",
                                     file_count="multiple", file_types=sorted(SUPPORTED_SUFFIXES),
                                     elem_id="rag-upload", interactive=False)
                    gr.HTML(f"<div class='rag-hint'>{', '.join(sorted(SUPPORTED_SUFFIXES))} · up to "
                            f"{s.max_file_mb:g} MB each · indexed as soon as they arrive</div>", padding=False)
                    notice = gr.HTML("", elem_id="rag-notice", padding=False)
                    docs = gr.HTML(render.render_documents(ctl.sources()), elem_id="rag-docs", padding=False)
                    doc_filter = gr.Dropdown(choices=_doc_choices(ctl, ctl.defaults), value=[], multiselect=True,
                                             label="Ask only these documents (none chosen: all)",
                                             elem_id="rag-filter")
                    gr.HTML("<div class='rag-label'>Remove a document</div>", padding=False)
                    with gr.Group(elem_id="rag-remove-group"), gr.Row(equal_height=True):
                        doc_choice = gr.Dropdown(choices=_doc_choices(ctl, ctl.defaults), value=None,
                                                 show_label=False, container=False, scale=4,
                                                 elem_id="rag-remove-choice")
                        remove_btn = gr.Button("Remove…", variant="stop", scale=2, min_width=110, size="md",
                                               elem_id="rag-remove", interactive=False)
                    with gr.Row(visible=False, elem_id="rag-confirm") as confirm_row:
                        confirm_text = gr.HTML("", padding=False)
                        confirm_btn = gr.Button("Yes, remove it", variant="stop", size="sm",
                                                elem_id="rag-confirm-remove")
                        cancel_btn = gr.Button("Cancel", size="sm", elem_id="rag-cancel-remove")
                with gr.Tab("Chats", elem_id="rag-chats-tab"):
                    chats = gr.Radio([], value=None, label="Conversations kept in this browser", elem_id="rag-chats")
                    delete_chat = gr.Button("Delete this conversation…", variant="stop", size="sm",
                                            elem_id="rag-delete-chat")
                    # Asked in the page, as "Remove a document" does: Gradio has no confirm dialog or undo
                    # toast of its own, and the browser's confirm() blocks the whole page.
                    with gr.Row(visible=False, elem_id="rag-confirm-delete") as delete_row:
                        delete_text = gr.HTML("", padding=False)
                        delete_yes = gr.Button("Yes, delete it", variant="stop", size="sm",
                                               elem_id="rag-confirm-delete-chat")
                        delete_no = gr.Button("Cancel", size="sm", elem_id="rag-cancel-delete-chat")
                with gr.Tab("Settings", elem_id="rag-settings-tab"):
                    gr.HTML("<div class='rag-hint'>These settings apply to this page only.</div>", padding=False)
                    k = gr.Slider(*K_RANGE, value=s.k, step=1, label="Passages to retrieve (k)", elem_id="rag-k")
                    strict = gr.Checkbox(value=s.strict, label="Strict mode: drop sentences the sources do "
                                         "not support", elem_id="rag-strict")
                    backend = gr.Radio(_BACKEND_CHOICES, value=s.backend, label="Answer backend",
                                       elem_id="rag-backend")
                    llm = s.backend == "openai"
                    base_url = gr.Textbox(s.llm_base_url or "", label="Server URL", visible=llm,
                                          placeholder="http://127.0.0.1:11434/v1", elem_id="rag-base-url")
                    model = gr.Textbox(s.llm_model or "", label="Model name", visible=llm,
                                       placeholder="e.g. qwen2.5:3b", elem_id="rag-model")
                    api_key = gr.Textbox("", label="API key (leave empty to keep the current one)",
                                         type="password", visible=llm)
                    gguf = gr.Textbox(s.gguf_path or "", label="GGUF file (empty: the bundled SmolLM2)",
                                      visible=s.backend == "gguf", placeholder="/path/to/model.gguf")
                    collection = gr.Dropdown(ctl.assistants.collections(), value=s.collection,
                                             allow_custom_value=True, elem_id="rag-collection",
                                             label="Collection (pick one, or type a new name to create it)")
                    # Closed until the page's load has applied again what this tab kept (``on_restore``).
                    apply_btn = gr.Button("Apply backend and collection", variant="primary", interactive=False,
                                          elem_id="rag-apply")
                    settings_notice = gr.HTML("", elem_id="rag-settings-notice", padding=False)

        # ---- chat: answering runs concurrently; a chat is saved in the browser when asked and when answered ----
        def listed(listing: list[dict[str, Any]], state: ChatState) -> Any:
            return gr.update(choices=history.listing_choices(listing),
                             value=state.id if any(e["id"] == state.id for e in listing) else None)

        def keep(state: ChatState, listing: str) -> Any:
            """The change for the page to merge into localStorage, and the Chats list as it will be."""
            put = history.command(put=state) if state.turns else gr.skip()
            return put, listed(history.listing_save(history.parse_listing(listing), state), state)

        def saved_first(steps: Any, listing: str) -> Any:
            """``steps`` (messages, state) with the chat saved in the browser at the first one, i.e. with its
            question and the answer pending: a reload while the answer streams reopens this chat with the
            question (shown as interrupted, see ``history.find``) instead of losing it; and again at the step
            that shows the answer (a separate save after it left a moment in which a reload showed the answer
            as interrupted). The question box is no output: the page empties it when the question is asked
            (``CLEAR_QUESTION``), as these steps may start only after a wait in the queue, and a next
            question typed meanwhile stays."""
            for i, (messages, state) in enumerate(steps):
                if i == 0:
                    yield (messages, state, *keep(state, listing), state.id)
                elif state.turns and "rag-pending" not in state.turns[-1].html:  # answered: saved with it, so a
                    yield messages, state, *keep(state, listing), gr.skip()  # reload right after has it
                else:
                    yield messages, state, gr.skip(), gr.skip(), gr.skip()

        def respond(q: str, state: ChatState, k_value: float, strict_value: bool, sess: SessionSettings,
                    only: list[str] | None, listing: Any) -> Any:
            if not (q or "").strip():
                yield gr.skip()
                return
            yield from saved_first(ctl.respond(q, state, int(k_value), bool(strict_value), sess, only), listing)

        def again(state: ChatState, k_value: float, strict_value: bool, sess: SessionSettings,
                  only: list[str] | None, listing: Any) -> Any:
            if not state.turns:
                yield gr.skip()
                return
            yield from saved_first(ctl.regenerate(state, int(k_value), bool(strict_value), sess, only), listing)

        answer_inputs = [chat_state, k, strict, session, doc_filter, store]
        answer_outputs = [chatbot, chat_state, save, chats, chat_id]
        asked = question.submit(respond, [question, *answer_inputs], answer_outputs, api_visibility="private",
                                concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY, js=CLEAR_QUESTION)
        redone = regenerate.click(again, answer_inputs, answer_outputs, api_visibility="private",
                                  concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY)
        chat_id.change(None, chat_id, None, js=REMEMBER_CHAT)
        save.change(None, save, None, js=SAVE_CHATS)
        # After any tab wrote (this one included): read the stored chats again, and list them.
        refresh_chats.click(None, None, store, js=READ_CHATS).then(
            lambda listing, state: listed(history.parse_listing(listing), state), [store, chat_state], chats,
            api_visibility="private", queue=False)

        def after_answer(state: ChatState, listing: str) -> Any:
            """When an answer event has ended: an answer Stop cut short says so (nothing to do after one
            that finished). This runs as the answer events' ``.then``, which the page starts only once
            Gradio's cancel is complete. Stop ran it itself, beside the cancel, and a piece the answer
            streamed meanwhile could arrive after "Stopped" and leave the answer shown as being written
            for good (2 of 13 runs of the browser test when the test model's next word came at Stop)."""
            if not state.unfinished:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            state = ctl.stopped(state)
            return (state.messages, state, *keep(state, listing))

        for answering in (asked, redone):
            answering.then(after_answer, [chat_state, store], [chatbot, chat_state, save, chats],
                           api_visibility="private", queue=False)
        stop.click(None, None, None, cancels=[asked, redone], queue=False)

        def fresh() -> Any:
            state = ChatState()
            return [], state, "", gr.update(value=None), gr.update(visible=False), gr.update(visible=False), state.id

        new_chat.click(fresh, None, [chatbot, chat_state, question, chats, viewer, delete_row, chat_id],
                       api_visibility="private", queue=False)

        def cleared() -> Any:
            state = ChatState()
            return state, gr.update(value=None), state.id

        chatbot.clear(cleared, None, [chat_state, chats, chat_id], api_visibility="private", queue=False)

        def open_chat(chosen: str | None, stored: str) -> Any:
            """``stored``: the chosen chat alone, read from localStorage by ``READ_ONE_CHAT``."""
            state = history.find(history.parse(stored), chosen)
            return state.messages, state, gr.update(visible=False), gr.update(visible=False), state.id

        chats.input(open_chat, [chats, store], [chatbot, chat_state, viewer, delete_row, chat_id],
                    api_visibility="private", queue=False, js=READ_ONE_CHAT)
        chats.input(None, js=CHAT_OPENED)

        def adopt(new_id: str, state: ChatState) -> Any:
            """The page script kept this chat under a new id (another tab went on with it): the page's state
            takes it, so later saves, the Chats list and Delete name this page's version."""
            if not new_id or new_id == state.id:  # the id the server itself gave the page
                return gr.skip()
            state.id = new_id  # the object a streaming answer holds too
            return state

        chat_id.change(adopt, [chat_id, chat_state], chat_state, api_visibility="private", queue=False).then(
            None, None, store, js=READ_CHATS).then(
            lambda listing, state: listed(history.parse_listing(listing), state), [store, chat_state], chats,
            api_visibility="private", queue=False)

        def ask_delete(state: ChatState) -> Any:
            if not state.turns:  # nothing saved to delete
                return gr.update(visible=False), ""
            title = history.choice_title(state)
            return (gr.update(visible=True), f"<div class='rag-confirm-text'>Delete the conversation "
                    f"“{render.escape_text(title)}” from this browser?</div>")

        delete_chat.click(ask_delete, chat_state, [delete_row, delete_text], api_visibility="private", queue=False)
        delete_no.click(lambda: gr.update(visible=False), None, delete_row, api_visibility="private", queue=False)

        def forget(state: ChatState, listing: str) -> Any:
            kept = history.listing_delete(history.parse_listing(listing), state.id)
            fresh_state = ChatState()
            return ([], fresh_state, history.command(drop=state.id),
                    gr.update(choices=history.listing_choices(kept), value=None), gr.update(visible=False),
                    fresh_state.id)

        delete_yes.click(forget, [chat_state, store], [chatbot, chat_state, save, chats, delete_row, chat_id],
                         api_visibility="private", queue=False)

        def on_view(request: str, state: ChatState, sess: SessionSettings) -> Any:
            try:
                turn, n = (int(x) for x in request.split(":")[:2])
            except ValueError:
                return gr.update(), gr.update(), gr.update()
            html, image = ctl.view(state, turn, n, sess)
            return gr.update(visible=True), html, gr.update(value=image, visible=image is not None)

        view_request.change(on_view, [view_request, chat_state, session], [viewer, viewer_text, viewer_page],
                            api_visibility="private", concurrency_id="answer",
                            concurrency_limit=ANSWER_CONCURRENCY).then(
            None, js=SHOW_VIEWER)
        close_viewer.click(lambda: gr.update(visible=False), None, viewer, api_visibility="private", queue=False)

        # ---- documents: writes to the index run one at a time ----
        doc_outputs = [docs, doc_choice, doc_filter, status]

        def on_upload(files: list[str] | None, sess: SessionSettings, only: list[str] | None,
                      progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
            result = ctl.upload(files, progress=lambda f, d: progress(f, desc=d), session=sess)
            return (None, result.html(), *_documents_view(ctl, sess, only))

        # "multiple": files dropped while an earlier drop is still being indexed queue behind it
        # (Gradio's default, "once", silently ignored them).
        upload.upload(on_upload, [upload, session, doc_filter], [upload, notice, *doc_outputs],
                      api_visibility="private", concurrency_id="writer", concurrency_limit=1,
                      show_progress_on=[notice], trigger_mode="multiple")

        def ask_confirm(source: str | None) -> Any:
            if not source:
                return gr.update(visible=False), "", Notice("warn", ("Choose a document to remove.",)).html()
            return (gr.update(visible=True), f"<div class='rag-confirm-text'>Remove <strong>"
                    f"{render.escape_text(render.display_name(source))}</strong> from the index?</div>", "")

        remove_btn.click(ask_confirm, doc_choice, [confirm_row, confirm_text, notice], api_visibility="private",
                         queue=False)
        cancel_btn.click(lambda: gr.update(visible=False), None, confirm_row, api_visibility="private", queue=False)

        def on_remove(source: str | None, sess: SessionSettings, only: list[str] | None) -> Any:
            return (gr.update(visible=False), ctl.remove(source, sess).html(), *_documents_view(ctl, sess, only))

        confirm_btn.click(on_remove, [doc_choice, session, doc_filter], [confirm_row, notice, *doc_outputs],
                          api_visibility="private", concurrency_id="writer", concurrency_limit=1)

        # ---- settings: this page's only ----
        def on_backend(choice: str) -> Any:
            return (gr.update(visible=choice == "openai"), gr.update(visible=choice == "openai"),
                    gr.update(visible=choice == "openai"), gr.update(visible=choice == "gguf"))

        backend.change(on_backend, backend, [base_url, model, api_key, gguf], api_visibility="private", queue=False)

        def on_apply(choice: str, url: str, name: str, key: str, path: str, coll: str | None,
                     sess: SessionSettings, only: list[str] | None) -> Any:
            result, applied = ctl.apply_settings(choice, url, name, key, path, coll or "", sess)
            # Kept by the tab (without the key) only once applied: a reload applies it again.
            keep = ctl.kept_after_apply(applied) if applied is not sess else gr.skip()
            return (result.html(), applied, gr.update(choices=ctl.assistants.collections(), value=applied.collection),
                    keep, *_documents_view(ctl, applied, only))

        apply_btn.click(on_apply, [backend, base_url, model, api_key, gguf, collection, session, doc_filter],
                        [settings_notice, session, collection, kept, *doc_outputs], api_visibility="private",
                        concurrency_id="settings", concurrency_limit=ANSWER_CONCURRENCY)
        kept.change(None, kept, None, js=KEEP_APPLIED)
        k.change(None, k, None, js=KEEP_K)
        strict.change(None, strict, None, js=KEEP_STRICT)

        def on_load(stored: str, listing: str, old: Any, sess: SessionSettings, current: str) -> Any:
            saved, moved, listed_now = history.parse(stored), gr.skip(), history.parse_listing(listing)
            if not stored and history.chats(old):  # nothing under our key yet: move BrowserState's chats
                saved = history.chats(old)
                moved = history.command(every=saved)
                listed_now = history.bounded([history.entry(ChatState.from_json(c)) for c in saved])
            # The chat this tab was in (a reload), else the latest one (a new tab).
            state = history.find(saved, current or (saved[0]["id"] if saved else None))
            return (state.messages, state, listed(listed_now, state),
                    gr.update(choices=ctl.assistants.collections(), value=sess.collection),
                    *_documents_view(ctl, sess), gr.update(placeholder=_RESTORING), state.id, moved,
                    "")  # the stored chats are not kept in the page's state: only the listing is sent again

        def on_restore(kept_text: str, sess: SessionSettings, only: list[str] | None) -> Any:
            """The settings this tab kept (a reload), applied again once the chat is shown and before the
            question box, Apply, Regenerate, uploads and removal open (asking the backend may take seconds).
            Whatever goes wrong, they open: a page stuck closed could not even be set by hand."""
            opened = (gr.update(interactive=True, placeholder=_ASK), *[gr.update(interactive=True)] * 4)
            try:
                kept_settings = KeptSettings.parse(kept_text)
                restored, sess = ctl.restore_settings(kept_settings, sess)
                if restored is not None and restored.kind != "ok":
                    gr.Warning(" ".join(line[:1].upper() + line[1:] for line in restored.lines), duration=20)
                llm = sess.backend == "openai"
                return (sess, restored.html() if restored else gr.skip(), sess.backend,
                        gr.update(value=sess.llm_base_url or "", visible=llm),
                        gr.update(value=sess.llm_model or "", visible=llm), gr.update(visible=llm),
                        gr.update(value=sess.gguf_path or "", visible=sess.backend == "gguf"),
                        kept_settings.k if kept_settings and kept_settings.k else gr.skip(),
                        kept_settings.strict if kept_settings and kept_settings.strict is not None else gr.skip(),
                        gr.update(choices=ctl.assistants.collections(), value=sess.collection),
                        *_documents_view(ctl, sess, only), *opened)
            except Exception as exc:  # the index or Chroma server failing: say so, open the page anyway
                gr.Warning(f"This page's settings could not be applied again: {type(exc).__name__}: {exc}",
                           duration=20)
                return (*[gr.skip()] * 14, *opened)

        page_loaded = demo.load(None, None, [chat_id, loaded, store, kept], js=READ_CHAT).then(
            on_load, [loaded, store, legacy, session, chat_id],
            [chatbot, chat_state, chats, collection, *doc_outputs, question, chat_id, save, loaded],
            api_visibility="private").then(
            on_restore, [kept, session, doc_filter],
            [session, settings_notice, backend, base_url, model, api_key, gguf, k, strict, collection, *doc_outputs,
             question, apply_btn, regenerate, upload, remove_btn], api_visibility="private")
        page_loaded.then(None, js=_FOCUS_QUESTION)
        dark.click(None, js=TOGGLE_DARK)
        demo.load(None, js=RESTORE_DARK)
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


def _doc_choices(ctl: Controller, session: SessionSettings) -> list[tuple[str, str]]:
    return render.document_choices(ctl.sources(session))


def _status(ctl: Controller, session: SessionSettings) -> str:
    sources = ctl.sources(session)
    return render.render_status(len(sources), sum(sources.values()), session.backend, session.collection)


def _documents_view(ctl: Controller, session: SessionSettings, only: list[str] | None = None
                    ) -> tuple[str, Any, Any, str]:
    """The documents panel after a change; the "ask only these" choice keeps the files still indexed
    (an upload or a removal must not silently widen the next question to every document)."""
    choices = _doc_choices(ctl, session)
    indexed = {src for _, src in choices}
    return (render.render_documents(ctl.sources(session)), gr.update(choices=choices, value=None),
            gr.update(choices=choices, value=[s for s in only or [] if s in indexed]), _status(ctl, session))
