"""What the web UI does, without Gradio: answer, upload, remove, change settings.

The handlers take and return plain values (HTML strings, lists of chat messages), so they can be
tested with a fake assistant. ``ui.app`` wires them to Gradio components.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag import SUPPORTED_SUFFIXES, IngestReport
from rag.documents import valid_collection_name
from rag.errors import RagError
from rag.llm.registry import configuration_problem
from rag.records import Answer
from rag.settings import Settings, SettingsError
from ui import render
from ui.page_settings import KeptSettings
from ui.session import Assistants, MakeAssistant, SessionSettings, check_backend_live
from ui.viewer import Cited, render_context, render_pdf_page

Message = dict[str, str]
PageProgress = Callable[[float, str], None]
"""progress(fraction_done, description)."""
# Shown while an LLM is silent: it reads its whole prompt (a follow-up's rewrite, then the passages)
# before its first word, seconds to minutes on a CPU for a large model.
READING = "Waiting for the model's first word: it reads everything before it writes…"


@dataclass
class Turn:
    """One question and its answer as shown; ``asked`` (the standalone question) once it was answered."""

    question: str
    html: str
    asked: str | None = None
    cited: list[dict[str, Any]] = field(default_factory=list)  # what the citation viewer needs (ui.viewer.Cited)


@dataclass
class ChatState:
    """One conversation: its turns, as kept in the page's session and in the browser's history."""

    turns: list[Turn] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def messages(self) -> list[Message]:
        return [m for t in self.turns for m in ({"role": "user", "content": render.render_user(t.question)},
                                                 {"role": "assistant", "content": t.html})]

    @property
    def history(self) -> list[str]:
        """The questions answered so far, for follow-ups."""
        return [t.asked for t in self.turns if t.asked]

    @property
    def title(self) -> str:
        return self.turns[0].question if self.turns else "New chat"

    @property
    def unfinished(self) -> bool:
        """Whether the last answer is still shown as being written."""
        return bool(self.turns) and self.turns[-1].asked is None and "rag-pending" in self.turns[-1].html

    def end_unfinished(self, title: str, detail: str) -> ChatState:
        """The last answer, if it was still being written, replaced by ``title``; it stays out of the
        follow-up history (``asked`` stays None), and Regenerate asks its question again in its place."""
        if self.unfinished:
            self.turns[-1].html = render.render_error(title, detail)
        return self

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "turns": [dataclasses.asdict(t) for t in self.turns]}

    @classmethod
    def from_json(cls, value: Any) -> ChatState:
        """A conversation from the browser's storage; anything malformed becomes an empty chat."""
        try:
            turns = [Turn(str(t["question"]), str(t["html"]), t.get("asked") and str(t["asked"]),
                          [c for c in t.get("cited") or [] if isinstance(c, dict)]) for t in value["turns"]]
            return cls(turns, str(value["id"]))
        except (KeyError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True)
class Notice:
    """A status box for the page: kind is ok, warn or error."""

    kind: str
    lines: tuple[str, ...]

    def html(self) -> str:
        return render.render_notice(self.kind, self.lines)


class Controller:
    """The shared assistants and the lock that serialises every write to the index.

    Each call names its page's ``SessionSettings``: one page switching backend or collection
    never changes another's. Answering runs concurrently; uploads and removals take ``write_lock``.
    """

    def __init__(self, assistant: Any, upload_root: Path | None = None,
                 make_assistant: MakeAssistant | None = None) -> None:
        self.assistants = Assistants(assistant, make_assistant)
        self.upload_root = Path(upload_root or Path(assistant.settings.index_dir) / "uploads")
        self.write_lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        """The server's settings: every new page starts from them."""
        settings: Settings = self.assistants.default.settings
        return settings

    @property
    def defaults(self) -> SessionSettings:
        return self.assistants.defaults

    def assistant(self, session: SessionSettings | None = None) -> Any:
        return self.assistants.get(session or self.defaults)

    def upload_dir(self, session: SessionSettings | None = None) -> Path:
        """Where uploaded files are kept: one folder per collection, inside the index folder."""
        return self.upload_root / _safe_name((session or self.defaults).collection)

    # ---- chat --------------------------------------------------------------------------------

    def respond(self, question: str, state: ChatState, k: int | None = None, strict: bool | None = None,
                session: SessionSettings | None = None, sources: Sequence[str] | None = None
                ) -> Iterator[tuple[list[Message], ChatState]]:
        """Stream one answer: the question and a placeholder first, growing text, then the checked answer."""
        question = (question or "").strip()
        if not question:
            yield state.messages, state
            return
        assistant = self.assistant(session)
        history = state.history
        turn = Turn(question, render.render_pending())
        state.turns = [*state.turns, turn]
        yield state.messages, state
        text = ""
        answer: Answer | None = None
        try:
            for item in assistant.ask_stream(question, k=int(k) if k else None, strict=strict,
                                             sources=list(sources) if sources else None, history=history):
                if isinstance(item, Answer):
                    answer = item
                elif item or text:
                    text += item
                    turn.html = render.render_streaming(text)
                    yield state.messages, state
                else:  # "": the model is silent (reading its prompt); Stop can end it here
                    turn.html = render.render_pending(READING)
                    yield state.messages, state
        except Exception as exc:  # shown in the chat: a broken backend must not break the page
            # A RagError is its own sentence (a Chroma server gone, a backend that refused); anything
            # else is a bug, named by its class.
            advice = "" if isinstance(exc, RagError) else "\nCheck the backend under Settings."
            turn.html = render.render_error(f"Could not answer with the {assistant.settings.backend} backend.",
                                            _sentence(exc) + advice)
            yield state.messages, state
            return
        if answer is None:
            turn.html = render.render_error("No answer was produced.")
        else:
            turn.html = render.render_answer(answer, only=len(sources or ()))
            turn.asked = answer.asked
            turn.cited = [{f: getattr(c, f) for f in ("n", "source", "page", "quote", "start", "end", "support")}
                          for c in answer.citations]
        yield state.messages, state

    def regenerate(self, state: ChatState, k: int | None = None, strict: bool | None = None,
                   session: SessionSettings | None = None, sources: Sequence[str] | None = None
                   ) -> Iterator[tuple[list[Message], ChatState]]:
        """Ask the last question again (an LLM may write a better answer; the extractive one is the same)."""
        if not state.turns:
            yield state.messages, state
            return
        last = state.turns[-1]
        state.turns = state.turns[:-1]
        yield from self.respond(last.question, state, k, strict, session, sources)

    @staticmethod
    def stopped(state: ChatState) -> ChatState:
        """After Stop: an unfinished answer says so (and is not used for follow-ups)."""
        return state.end_unfinished("Stopped: the answer was not finished.", "Ask again or press ↻ Regenerate.")

    def view(self, state: ChatState, turn: int, n: int, session: SessionSettings | None = None
             ) -> tuple[str, Any]:
        """Citation ``n`` of answer ``turn`` in its document: the context as HTML, and for a PDF the page
        as an image (else None). Only a file indexed in this page's collection is read."""
        found = [c for c in (state.turns[turn].cited if 0 <= turn < len(state.turns) else [])
                 if isinstance(c, dict) and c.get("n") == n]
        cited = Cited.from_json(found[0]) if found else None  # the card's own: its page is the link's
        # More quotes under the same marker (excerpts from one passage) are marked too, as on the card.
        others = [c for c in map(Cited.from_json, found[1:]) if c is not None]
        if cited is None:
            return Notice("warn", ("That citation is not in this conversation.",)).html(), None
        assistant = self.assistant(session)
        if cited.source not in assistant.sources():
            return Notice("warn", (f"{render.display_name(cited.source)} is not in collection "
                                   f"{assistant.settings.collection!r} any more.",)).html(), None
        html = render_context(cited, assistant.document_chunks(cited.source), others)
        image = None
        if cited.page and cited.source.lower().endswith(".pdf"):
            image = render_pdf_page(Path(cited.source), cited.page, cited.quote)
        return html, image

    # ---- documents -----------------------------------------------------------------------------

    def sources(self, session: SessionSettings | None = None) -> dict[str, int]:
        return dict(self.assistant(session).sources())

    def upload(self, files: Sequence[str | Path] | None, progress: PageProgress | None = None,
               session: SessionSettings | None = None) -> Notice:
        """Copy accepted files into the upload folder and index them; every failure is named."""
        # A file already gone was taken by an earlier drop: Gradio's file box keeps the files of a drop
        # that is still being indexed and sends them again with the next one.
        paths = [Path(f) for f in files or [] if Path(f).exists()]
        if not paths:
            return Notice("warn", ("No file received.",))
        assistant = self.assistant(session)
        upload_dir = self.upload_dir(session)
        max_bytes = self.settings.max_bytes
        accepted: list[Path] = []
        problems: list[tuple[str, str]] = []  # (file name, why it was not indexed)
        with self.write_lock:
            upload_dir.mkdir(parents=True, exist_ok=True)
            for path in paths:
                reason = check_upload(path, max_bytes)
                if reason:
                    problems.append((path.name, reason))
                    continue
                target = upload_dir / _safe_name(path.name)
                shutil.copyfile(path, target)
                accepted.append(target)
            for path in paths:  # Gradio's temporary copy is no longer needed
                path.unlink(missing_ok=True)
            if not accepted:
                return upload_notice(len(paths), problems)
            try:
                report = assistant.add(accepted, progress=_ingest_progress(progress))
            except Exception as exc:  # the whole batch failed (a store gone, a full disk): one reason, said once
                if len(paths) == 1:
                    return upload_notice(1, [(accepted[0].name, _sentence(exc))])
                return Notice("error", (f"None of the {len(paths)} files could be indexed: {_sentence(exc)}",
                                        *(f"{name}: {why}" for name, why in problems)))
            if progress is not None:
                progress(1.0, "Indexed")
            indexed = dict(assistant.sources())
            for failure in report.files_failed:
                problems.append((render.display_name(failure.path), failure.error))
                failed = Path(failure.path)
                if failed.parent == upload_dir and str(failed) not in indexed:
                    failed.unlink(missing_ok=True)
        unchanged = [p.name for p in accepted if str(p) in indexed] if report.files_unchanged else []
        return upload_notice(len(paths), problems, report, unchanged)

    def remove(self, source: str | None, session: SessionSettings | None = None) -> Notice:
        if not source:
            return Notice("warn", ("Choose a document to remove.",))
        with self.write_lock:
            removed = self.assistant(session).remove(source)
            copy = Path(source)
            if copy.parent == self.upload_dir(session):
                copy.unlink(missing_ok=True)
        if not removed:
            return Notice("warn", (f"{render.display_name(source)} was not in the index.",))
        return Notice("ok", (f"Removed {render.display_name(source)} ({_count(removed, 'passage')}); upload it "
                             "again to undo.",))

    # ---- settings ------------------------------------------------------------------------------

    def apply_settings(self, backend: str, base_url: str = "", model: str = "", api_key: str = "",
                       gguf_path: str = "", collection: str = "", session: SessionSettings | None = None,
                       keep_key: bool = True) -> tuple[Notice, SessionSettings]:
        """This page's new backend and collection, once the backend answered for real; on any problem
        the notice says why and the page keeps ``session``. Other pages are not affected. An empty
        ``api_key`` keeps the current key for the same server, unless ``keep_key`` is False."""
        current = session or self.defaults
        base_url, model, gguf_path = base_url.strip(), model.strip(), gguf_path.strip()
        collection = collection.strip() or current.collection
        if not valid_collection_name(collection):
            return Notice("error", ("The settings were not applied.", f"{collection[:80]!r} is not a collection "
                                    "name: use 3 to 512 letters, digits, '.', '_' or '-', starting and ending with "
                                    "a letter or digit.")), current
        # An empty key field keeps the current key, but only for the same server: never send it elsewhere.
        same_server = keep_key and base_url == (current.llm_base_url or "")
        key = api_key.strip() or (current.llm_api_key if same_server else None)
        problem = configuration_problem(backend, model=model, base_url=base_url, api_key=key, gguf_path=gguf_path)
        if problem:
            return Notice("error", ("The settings were not applied.", problem)), current
        llm = backend == "openai"
        new = SessionSettings(backend, collection, base_url if llm and base_url else None,
                              model if llm and model else None, key if llm else None,
                              gguf_path if backend == "gguf" and gguf_path else None)
        exists = collection in self.assistants.collections()  # before the assistant creates it
        try:
            self._check(new.apply_to(self.settings))
            self.assistant(new)
        except Exception as exc:
            return Notice("error", (f"The {backend} backend did not answer; this page keeps its previous "
                                    "settings.", _sentence(exc))), current
        return Notice("ok", (f"This page answers with the {backend} backend from collection {collection!r}"
                             + ("." if exists else " (new: add documents to it)."),)), new

    def restore_settings(self, kept: KeptSettings | None, current: SessionSettings | None = None
                         ) -> tuple[Notice | None, SessionSettings]:
        """Apply again what a page's tab kept across a reload (``ui.page_settings``), asking the backend
        for real as Apply does; on any problem the page keeps ``current`` and the notice says why.
        A collection that is gone is not created again: a reload never makes an empty collection."""
        current = current or self.defaults
        wanted = kept.session(current) if kept else None
        if kept is None or wanted is None or _same_choice(wanted, current):
            return None, current
        head = "Your settings from before the reload were not restored; this page uses the server's."
        if wanted.collection not in self.assistants.collections():
            return Notice("warn", (head, f"The collection {wanted.collection!r} no longer exists.")), current
        # A key the user typed is not kept: never put the server's own key in its place (the user may
        # have typed one for another account of the same server).
        notice, applied = self.apply_settings(wanted.backend, wanted.llm_base_url or "", wanted.llm_model or "", "",
                                              wanted.gguf_path or "", wanted.collection, current,
                                              keep_key=not kept.had_key)
        key_hint = (("API keys are not kept in the browser: enter it again under Settings.",)
                    if kept.had_key else ())
        if notice.kind != "error":
            return Notice(notice.kind, (*notice.lines, *key_hint)), applied
        return Notice("warn", (head, *notice.lines[1:], *key_hint)), current

    def kept_after_apply(self, applied: SessionSettings) -> str:
        """What the page's tab keeps once ``applied`` was applied (``ui.page_settings``): never the key,
        only whether it is one the user typed (not the server's own)."""
        typed = applied.llm_api_key is not None and applied.llm_api_key != self.defaults.llm_api_key
        return KeptSettings.of(applied, had_key=typed).json()

    def _check(self, settings: Settings) -> None:
        check_backend_live(settings)

def upload_notice(received: int, problems: Sequence[tuple[str, str]], report: IngestReport | None = None,
                  unchanged: Sequence[str] = ()) -> Notice:
    """What an upload of ``received`` files did, headline first; every file not indexed is named with why.

    The headline says what happened rather than counting ("Indexed 0 of 1 file" read as a success):

    >>> upload_notice(1, [("report.pdf", "the file cannot be read: encrypted")]).lines
    ('Could not index report.pdf: the file cannot be read: encrypted.',)
    >>> upload_notice(2, [("a.md", "empty"), ("b.exe", ".exe is not supported")]).lines
    ('None of the 2 files could be indexed.', 'a.md: empty', 'b.exe: .exe is not supported')
    """
    done = report.files_added + report.files_updated if report else 0
    kept = report.files_unchanged if report else 0
    reasons = tuple(f"{name}: {why}" for name, why in problems)
    if report is not None and done:
        head = (f"Indexed {done} of {_count(received, 'file')}: {_count(report.chunks_added, 'new passage')} in "
                f"{report.seconds:.1f} s. Ask away.")
        lines = (head, *([f"{kept} already indexed and unchanged."] if kept else []), *reasons)
        return Notice("warn" if problems else "ok", lines)
    if kept and not problems:  # nothing new, nothing wrong
        head = (f"{unchanged[0]} is already indexed and unchanged." if len(unchanged) == 1 and received == 1
                else f"Nothing new: {_count(kept, 'file')} already indexed and unchanged.")
        return Notice("ok", (head,))
    also = (f"{kept} already indexed and unchanged.",) if kept else ()
    if len(problems) == 1:
        name, why = problems[0]
        return Notice("error", (f"Could not index {name}: {why}" + ("" if why.endswith((".", "!", "?")) else "."),
                                *also))
    head = (f"None of the {len(problems)} files could be indexed." if not kept
            else f"{len(problems)} of {_count(received, 'file')} could not be indexed.")
    return Notice("error", (head, *also, *reasons))


def check_upload(path: Path, max_bytes: int) -> str | None:
    """Why ``path`` cannot be indexed (type or size), or None."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return (f"{path.suffix or 'a file without an extension'} is not supported; "
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


def _ingest_progress(progress: PageProgress | None) -> Callable[[str, str, int, int], None] | None:
    if progress is None:
        return None

    written = 0
    shown = 0.0

    def show(fraction: float, description: str) -> None:
        nonlocal shown
        shown = max(shown, fraction)  # several embedding batches must not move the bar back
        progress(shown, description)

    def report(stage: str, path: str, done: int, total: int) -> None:
        # Reading and chunking is the first half of the bar; embedding the passages fills most of
        # the second (a big file moves too), storing them the rest.
        nonlocal written
        if not total:
            return
        if stage == "read":
            show(0.5 * (done - 1) / total, f"Reading {render.display_name(path)} ({done}/{total})")
        elif stage == "embedded":
            show(0.5 + 0.45 * done / total, f"Embedded {done}/{total} passages")
        elif stage in ("done", "failed"):
            written += 1
            show(0.95 + 0.05 * min(written, total) / total, f"Stored {written}/{total} files")

    return report


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _safe_name(name: str) -> str:
    """A file or folder name that stays inside its parent (no separators, no leading dots)."""
    cleaned = "".join(c if c.isalnum() or c in "-_. " else "_" for c in Path(name).name).strip(" .")
    return cleaned or "file"


def _sentence(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, RagError) else f"{type(exc).__name__}: {text}"


def browser_secret(index_dir: str | Path) -> str:
    """The key of Gradio's BrowserState, where earlier versions kept conversations (read once to move them):
    made once per index folder (mode 0600), so they stay readable after the server restarts."""
    path = Path(index_dir).expanduser() / "ui-browser-secret"
    try:
        return path.read_text(encoding="ascii").strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)


def _new_secret(path: Path) -> str:
    secret = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret)
    return secret


def _same_choice(a: SessionSettings, b: SessionSettings) -> bool:
    """The same backend, model and collection, whatever the key."""
    return (a.backend, a.collection, a.llm_base_url, a.llm_model, a.gguf_path) == (
        b.backend, b.collection, b.llm_base_url, b.llm_model, b.gguf_path)
