"""What the web UI does, without Gradio: answer, upload, remove, change settings.

The handlers take and return plain values (HTML strings, lists of chat messages), so they can be
tested with a fake assistant. ``ui.app`` wires them to Gradio components.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag import SUPPORTED_SUFFIXES
from rag.llm.registry import configuration_problem
from rag.records import Answer
from rag.settings import Settings, SettingsError
from ui import render

Message = dict[str, str]
PageProgress = Callable[[float, str], None]
"""progress(fraction_done, description)."""


@dataclass
class ChatState:
    """One browser session's conversation: rendered messages and the questions asked so far."""

    messages: list[Message] = field(default_factory=list)
    history: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Notice:
    """A status box for the page: kind is ok, warn or error."""

    kind: str
    lines: tuple[str, ...]

    def html(self) -> str:
        return render.render_notice(self.kind, self.lines)


class Controller:
    """Holds the current ``Assistant`` and serialises every write to the index.

    Answering runs concurrently; uploads, removals and settings changes take ``write_lock``.
    """

    def __init__(self, assistant: Any, upload_root: Path | None = None,
                 make_assistant: Callable[[Settings, Any], Any] | None = None) -> None:
        self.assistant = assistant
        self.upload_root = Path(upload_root or Path(assistant.settings.index_dir) / "uploads")
        self.write_lock = threading.Lock()
        self._make_assistant = make_assistant or _default_make_assistant

    @property
    def settings(self) -> Settings:
        settings: Settings = self.assistant.settings
        return settings

    @property
    def upload_dir(self) -> Path:
        """Where uploaded files are kept: one folder per collection, inside the index folder."""
        return self.upload_root / _safe_name(self.settings.collection)

    # ---- chat --------------------------------------------------------------------------------

    def respond(self, question: str, state: ChatState, k: int | None = None,
                strict: bool | None = None) -> Iterator[tuple[list[Message], ChatState]]:
        """Stream one answer: the question and a placeholder first, growing text, then the checked answer."""
        question = (question or "").strip()
        if not question:
            yield list(state.messages), state
            return
        assistant = self.assistant  # a settings change mid-answer must not switch assistants under us
        state.messages = [*state.messages, {"role": "user", "content": render.render_user(question)},
                          {"role": "assistant", "content": render.render_pending()}]
        yield list(state.messages), state
        text = ""
        answer: Answer | None = None
        try:
            for item in assistant.ask_stream(question, k=int(k) if k else None, strict=strict,
                                             history=list(state.history)):
                if isinstance(item, Answer):
                    answer = item
                else:
                    text += item
                    state.messages[-1] = {"role": "assistant", "content": render.render_streaming(text)}
                    yield list(state.messages), state
        except Exception as exc:  # shown in the chat: a broken backend must not break the page
            state.messages[-1] = {"role": "assistant", "content": render.render_error(
                f"Could not answer with the {assistant.settings.backend} backend.",
                f"{type(exc).__name__}: {exc}\nCheck the backend under Settings.")}
            yield list(state.messages), state
            return
        if answer is None:
            state.messages[-1] = {"role": "assistant", "content": render.render_error("No answer was produced.")}
        else:
            state.messages[-1] = {"role": "assistant", "content": render.render_answer(answer)}
            state.history = [*state.history, answer.asked]
        yield list(state.messages), state

    # ---- documents -----------------------------------------------------------------------------

    def sources(self) -> dict[str, int]:
        return dict(self.assistant.sources())

    def upload(self, files: Sequence[str | Path] | None, progress: PageProgress | None = None) -> Notice:
        """Copy accepted files into the upload folder and index them; every failure is named."""
        paths = [Path(f) for f in files or []]
        if not paths:
            return Notice("warn", ("No file received.",))
        max_bytes = self.settings.max_bytes
        accepted: list[Path] = []
        problems: list[str] = []
        with self.write_lock:
            self.upload_dir.mkdir(parents=True, exist_ok=True)
            for path in paths:
                reason = check_upload(path, max_bytes)
                if reason:
                    problems.append(f"{path.name}: {reason}")
                    continue
                target = self.upload_dir / _safe_name(path.name)
                shutil.copyfile(path, target)
                accepted.append(target)
            for path in paths:  # Gradio's temporary copy is no longer needed
                path.unlink(missing_ok=True)
            if not accepted:
                return Notice("error", ("Nothing was indexed.", *problems))
            try:
                report = self.assistant.add(accepted, progress=_ingest_progress(progress))
            except Exception as exc:
                return Notice("error", (f"Indexing failed: {exc}", *problems))
            indexed = self.sources()
            for failure in report.files_failed:
                problems.append(f"{render.display_name(failure.path)}: {failure.error}")
                failed = Path(failure.path)
                if failed.parent == self.upload_dir and str(failed) not in indexed:
                    failed.unlink(missing_ok=True)
        done = report.files_added + report.files_updated
        lines = [f"Indexed {done} of {_count(len(paths), 'file')}: {_count(report.chunks_added, 'new passage')} "
                 f"in {report.seconds:.1f} s." + (" Ask away." if done else "")]
        if report.files_unchanged:
            lines.append(f"{report.files_unchanged} already indexed and unchanged.")
        if problems:
            return Notice("error" if not done and not report.files_unchanged else "warn", (*lines, *problems))
        return Notice("ok", tuple(lines))

    def remove(self, source: str | None) -> Notice:
        if not source:
            return Notice("warn", ("Choose a document to remove.",))
        with self.write_lock:
            removed = self.assistant.remove(source)
            copy = Path(source)
            if copy.parent == self.upload_dir:
                copy.unlink(missing_ok=True)
        if not removed:
            return Notice("warn", (f"{render.display_name(source)} was not in the index.",))
        return Notice("ok", (f"Removed {render.display_name(source)} ({removed} passages).",))

    # ---- settings ------------------------------------------------------------------------------

    def apply_settings(self, backend: str, base_url: str = "", model: str = "", api_key: str = "",
                       gguf_path: str = "", collection: str = "") -> Notice:
        """Switch backend or collection: a new Assistant that reuses the loaded embedding model."""
        base_url, model, gguf_path = base_url.strip(), model.strip(), gguf_path.strip()
        collection = collection.strip() or self.settings.collection
        problem = configuration_problem(backend, model=model, base_url=base_url,
                                        api_key=api_key.strip() or self.settings.llm_api_key, gguf_path=gguf_path)
        if problem:
            return Notice("error", ("The settings were not applied.", problem))
        new_settings = dataclasses.replace(
            self.settings, backend=backend, collection=collection, llm_base_url=base_url or None,
            llm_model=model or None, llm_api_key=api_key.strip() or self.settings.llm_api_key,
            gguf_path=gguf_path or None)
        with self.write_lock:
            try:
                assistant = self._make_assistant(new_settings, self.assistant.embedder)
            except Exception as exc:
                return Notice("error", (f"The {backend} backend could not be started; the previous settings "
                                        "stay in force.", f"{type(exc).__name__}: {exc}"))
            self.assistant = assistant
        return Notice("ok", (f"Answering with the {backend} backend from collection {collection!r}.",))


def check_upload(path: Path, max_bytes: int) -> str | None:
    """Why ``path`` cannot be indexed (type or size), or None."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return (f"{path.suffix or 'files without an extension'} is not supported; "
                f"use {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    size = path.stat().st_size
    if size > max_bytes:
        return f"the file is {size / 1e6:.1f} MB, more than the limit of {max_bytes / 1e6:.1f} MB"
    return None


def temp_dir_for(index_dir: str | Path) -> Path:
    """Gradio's upload folder (``GRADIO_TEMP_DIR``) for an index: ours, inside the index folder."""
    return Path(index_dir).expanduser().resolve() / "ui-tmp"


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``"user:password"`` (RAG_UI_AUTH) as a pair, or None when unset.

    >>> parse_auth("ada:s3cret")
    ('ada', 's3cret')
    """
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SettingsError("RAG_UI_AUTH must look like user:password")
    return user, password


def _default_make_assistant(settings: Settings, embedder: Any) -> Any:
    from rag.assistant import Assistant

    return Assistant(settings=settings, embedder=embedder).warm_up()  # a backend that cannot start fails here


def _ingest_progress(progress: PageProgress | None) -> Callable[[str, str, int, int], None] | None:
    if progress is None:
        return None

    def report(stage: str, path: str, done: int, total: int) -> None:
        if stage == "read" and total:
            progress((done - 1) / total, f"Indexing {render.display_name(path)} ({done}/{total})")

    return report


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _safe_name(name: str) -> str:
    """A file or folder name that stays inside its parent (no separators, no leading dots)."""
    cleaned = "".join(c if c.isalnum() or c in "-_. " else "_" for c in Path(name).name).strip(" .")
    return cleaned or "file"
