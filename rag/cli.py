"""The ``rag`` command line: ingest, ask, chat, doctor, and the commands other packages register.

``ui`` and ``evals`` sit above ``rag`` in the import order, so their subcommands arrive through
the ``rag.commands`` entry-point group (declared in pyproject.toml) instead of imports here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from index.errors import RagError
from index.loaders import ALSO_READ, SUPPORTED_SUFFIXES
from rag.llm.registry import BACKEND_NAMES
from rag.settings import JUDGE_NAMES, Settings
from rag.short_lived import collector_paused, skip_final_collection

if TYPE_CHECKING:
    from index.ingest import IngestReport

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Work that lasts longer than this before a first question says what it is doing (stderr).
NOTICE_AFTER_S = 2.0
_MISSING_SHOWN = 10  # files gone from disk listed by name after an ingest; --json lists every one


class CommandError(RagError):
    """A failure of one command to report in one sentence; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = self.exit_code = code


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every command that opens an index shares."""
    parser.add_argument("--index", dest="index_dir", metavar="DIR",
                        help="index folder (RAG_INDEX_DIR, default .rag-index)")
    parser.add_argument("--collection", metavar="NAME", help="collection inside the index (RAG_COLLECTION)")
    parser.add_argument("--chroma-url", metavar="URL",
                        help="use a Chroma server, e.g. http://127.0.0.1:8000 (RAG_CHROMA_URL)")
    parser.add_argument("--embed-model", metavar="FOLDER|PACKAGE",
                        help="sentence-transformers model folder or installed package (RAG_EMBED_MODEL, "
                             "default the packaged all-MiniLM-L6-v2); the index remembers it")
    parser.add_argument("--embed-url", metavar="URL", help="OpenAI-compatible embedding server instead of the "
                        "local model, e.g. http://127.0.0.1:7997/v1 (RAG_EMBED_URL; key: RAG_EMBED_API_KEY)")


def add_answer_options(parser: argparse.ArgumentParser) -> None:
    """Options of the commands that answer questions."""
    parser.add_argument("--k", type=int, metavar="N", help="passages to retrieve (RAG_K, default 5)")
    parser.add_argument("--answer-words", dest="answer_words", type=int, metavar="N",
                        help="the most words an extractive answer quotes (RAG_ANSWER_WORDS, default 120)")
    parser.add_argument("--strict", action="store_true", default=None,
                        help="drop sentences their sources do not support")
    parser.add_argument("--backend", choices=BACKEND_NAMES, help="answer generator (RAG_BACKEND, default extractive)")
    parser.add_argument("--model", dest="llm_model", metavar="NAME", help="LLM model name (RAG_LLM_MODEL)")
    parser.add_argument("--base-url", dest="llm_base_url", metavar="URL",
                        help="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 (RAG_LLM_BASE_URL)")
    parser.add_argument("--gguf", dest="gguf_path", metavar="FILE", help="local GGUF model file (RAG_GGUF_PATH)")
    parser.add_argument("--judge", choices=JUDGE_NAMES, help="support judge (RAG_JUDGE, default heuristic: rules only; "
                        "nli adds the optional entailment model, pip install 'rag[nli]')")
    parser.add_argument("--context", dest="llm_context", type=int, metavar="TOKENS",
                        help="LLM context window (RAG_LLM_CONTEXT)")
    parser.add_argument("--max-tokens", dest="llm_max_tokens", type=int, metavar="N",
                        help="answer length limit (RAG_LLM_MAX_TOKENS)")


def add_source_option(parser: argparse.ArgumentParser) -> None:
    """``--source``: answer from some indexed files only, as the Python and HTTP APIs' ``sources``."""
    parser.add_argument("--source", action="append", dest="sources", metavar="PATH",
                        help="answer only from this indexed file, or the indexed files under this folder "
                             "(repeat for more; paths as 'rag sources' lists them or as they were added)")


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings with the command line's flags on top of config file and environment."""
    names = ("index_dir", "collection", "chroma_url", "embed_model", "embed_url", "k", "answer_words", "strict",
             "backend", "llm_model", "llm_base_url", "gguf_path", "judge", "llm_context", "llm_max_tokens")
    return Settings.load(**{n: getattr(args, n) for n in names if hasattr(args, n)})


def open_assistant(args: argparse.Namespace, create: bool = True) -> Any:
    """The Assistant the flags describe; ``create=False`` for commands that only read (no index there
    is an error saying how to build one, and nothing is created)."""
    from rag.assistant import Assistant

    assistant = Assistant(settings=settings_from(args), create=create)
    if getattr(args, "k", None) is not None:  # --k is checked as the HTTP API checks it (1 … collection size)
        from rag.retrieve.hybrid import check_k

        check_k(args.k, assistant.store.count())
    return assistant


# ---- ingest ------------------------------------------------------------------------------------

def _cmd_ingest(args: argparse.Namespace, out: TextIO) -> int:
    from index.embedding import prefer_throughput
    from index.ingest import IngestInterrupted
    from rag.ingest_bar import IngestBar

    prefer_throughput()  # a batch job: libgomp's default spinning encodes ~10% faster on an idle machine

    assistant = open_assistant(args)
    show_bar = args.progress or (sys.stderr.isatty() and not args.json and not args.verbose)
    bar = IngestBar(sys.stderr if show_bar else None, verbose=args.verbose)
    watched = show_bar or args.verbose  # unwatched, ingest embeds each batch in one call
    try:
        report = assistant.add(args.paths, prune=args.prune, progress=bar if watched else None)
    except IngestInterrupted as stopped:  # say what was written, then the one sentence (in main)
        bar.close()
        _print_report(stopped.report, args.json, out)
        raise
    except KeyboardInterrupt:  # Ctrl-C: the bar's line ends, then what is kept and what to do
        bar.close()
        written = f" after {bar.written} file{'s were' if bar.written != 1 else ' was'} written" if watched else ""
        print(f"rag ingest: interrupted{written}; every file written is indexed whole, re-run 'rag ingest' to index "
              "the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    _print_report(report, args.json, out)
    return EXIT_OK if report.ok else EXIT_PARTIAL


def _print_report(report: IngestReport, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return
    total = "unknown" if report.chunks_total is None else report.chunks_total
    out.write(f"indexed: {report.files_added} added, {report.files_updated} updated, "
              f"{report.files_unchanged} unchanged, {len(report.files_failed)} failed"
              f"{f', {report.files_removed} removed' if report.files_removed else ''}\n"
              f"chunks: +{report.chunks_added} -{report.chunks_removed}, {total} in the index "
              f"({report.seconds:.1f} s)\n")
    if report.files_skipped:
        n = sum(report.files_skipped.values())
        kinds = ", ".join(f"{kind} {count}" for kind, count in report.files_skipped.items())
        out.write(f"skipped: {n} file{'s' if n != 1 else ''} of types rag does not read ({printable(kinds)}); "
                  f"read: {', '.join(sorted(SUPPORTED_SUFFIXES))}, {ALSO_READ}\n")
    for failure in report.files_failed:
        out.write(f"  failed: {printable(failure.path)}: {printable(failure.error)}\n")
    if report.files_missing:
        n = len(report.files_missing)
        out.write(f"{n} indexed file{'s' if n != 1 else ''} under these paths no longer exist{'s' if n == 1 else ''} "
                  f"and still answer{'s' if n == 1 else ''} questions; 'rag ingest --prune' removes "
                  f"{'it' if n == 1 else 'them'}:\n")
        for source in report.files_missing[:_MISSING_SHOWN]:
            out.write(f"  missing: {printable(source)}\n")
        if n > _MISSING_SHOWN:
            out.write(f"  … and {n - _MISSING_SHOWN} more ('rag ingest --json' lists them all)\n")


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped, so a file name cannot forge a
    line (a newline) or restyle the terminal (an escape sequence) in what the CLI prints.

    >>> printable("a.txt\\n[9] forged.txt")
    'a.txt\\\\n[9] forged.txt'
    """
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


# ---- ask / chat --------------------------------------------------------------------------------

def format_answer(answer: Any) -> str:
    """Plain-text answer, then each citation as ``[n] file:page — "quote"`` with its verdict (a quote that
    is the answer's own sentence, as every extractive one is, is not printed twice)."""
    lines = [answer.text]
    removed = tuple(getattr(answer, "removed", ()))  # strict mode's unsupported sentences: said, not hidden
    if answer.refused:
        if getattr(answer, "refusal_reason", ""):
            lines[0] += f" ({answer.refusal_reason})"
        if answer.sentences or removed:
            why = getattr(answer, "withdrawal_reason", None) or "its sources did not support it"
            lines.append(f"\nWithdrawn draft ({why}):")
            for s in (*answer.sentences, *removed):
                if s.support == "supported":
                    lines.append(f"  - supported: \"{printable(s.text[:80])}\"")
                else:
                    lines.append(f"  ! {s.support}: \"{printable(s.text[:80])}\" "
                                 f"({'; '.join(s.reasons[:2]) or 'low score'})")
        if answer.related:
            lines.append("\nPossibly related:")
            for hit in answer.related:
                page = f":{hit.chunk.page}" if hit.chunk.page else ""
                snippet = " ".join(hit.chunk.text.split())[:160]
                lines.append(f"  {printable(shown_path(hit.chunk.source))}{page} — \"{printable(snippet)}…\"")
        return "\n".join(lines)
    relevance = getattr(answer, "relevance", None)
    if relevance is not None and not relevance.answers:
        lines.append("\n  ? This may not answer your question: " + ("; ".join(relevance.reasons) or "low relevance"))
    flagged = [s for s in answer.sentences if s.support != "supported"]
    if flagged:
        lines.append("")
        for s in flagged:
            lines.append(f"  ! {s.support}: \"{printable(s.text[:80])}\" ({'; '.join(s.reasons[:2]) or 'low score'})")
    if removed:
        lines.append(f"\nRemoved by --strict ({len(removed)} sentence{'s' if len(removed) > 1 else ''} its sources do "
                     "not support):")
        for s in removed:
            lines.append(f"  - {s.support}: \"{printable(s.text[:80])}\" ({'; '.join(s.reasons[:2]) or 'low score'})")
    lines.append("")
    seen = set()
    for c in answer.citations:
        quote = " ".join(c.quote.split())
        cited = answer.sentences[c.sentence_index].text if c.sentence_index < len(answer.sentences) else ""
        # An extractive answer is its quotes: printing each again would double the output.
        verbatim = quote == " ".join(cited.split())
        if (c.n, "" if verbatim else quote) in seen:
            continue
        seen.add((c.n, "" if verbatim else quote))
        page = f":{c.page}" if c.page else ""
        shown = "quoted above, word for word" if verbatim else f"\"{printable(quote)}\""
        lines.append(f"[{c.n}] {printable(shown_path(c.source))}{page} — {shown} ({c.support}, {c.score:.2f})")
    return "\n".join(lines)


def shown_path(source: str, cwd: Path | None = None) -> str:
    """A cited file as the user can find it: relative to the current folder when under it, else whole.
    The bare name was ambiguous: every Debian package has a README.Debian, every Sphinx folder an index.html.

    >>> shown_path("/home/ann/docs/git/README.md", cwd=Path("/home/ann"))
    'docs/git/README.md'
    >>> shown_path("/usr/share/doc/git/README.md", cwd=Path("/home/ann"))
    '/usr/share/doc/git/README.md'
    >>> shown_path("https://example.org/faq.html", cwd=Path("/home/ann"))
    'https://example.org/faq.html'
    """
    path = Path(source)
    if not path.is_absolute():
        return source
    try:
        return str(path.relative_to(cwd or Path.cwd()))
    except (ValueError, OSError):  # not under it, or the current folder was deleted
        return source


def _print_stream(stream: Any, out: TextIO, show_text: bool) -> Any:
    """Show text as it is generated (``show_text``, terminal only), then return the final Answer."""
    from rag.records import Answer

    answer = None
    streamed = False
    for item in stream:
        if isinstance(item, Answer):
            answer = item
        elif item and show_text and out.isatty():
            out.write(item)
            out.flush()
            streamed = True
    if streamed:
        out.write("\n\n--- checked ---\n")
    return answer


def _streams(assistant: Any) -> bool:
    """Whether the answer text is worth showing as it is generated: an LLM's is, word by word. The
    extractive answerer's comes at once, with the passages' own [n] numbers, and the checked answer
    printed under it was the same text again, numbered by first citation ([2] became [1])."""
    return bool(assistant.settings.backend != "extractive")


@contextmanager
def notice_if_slow(message: str, after_s: float | None = None) -> Iterator[None]:
    """Print ``message`` to stderr once the block has run ``after_s`` seconds (``NOTICE_AFTER_S``)."""
    timer = threading.Timer(NOTICE_AFTER_S if after_s is None else after_s,
                            lambda: print(message, file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _prepare_keyword_index(assistant: Any) -> None:
    """Load (or build) the keyword index before the first question, saying so when it is slow: the
    first ``rag ask`` after an interrupted ingest of 190,103 passages rebuilt it in silence for
    44.6 s, and with a Chroma server every process builds its own."""
    count = assistant.store.count()
    with notice_if_slow(f"preparing the keyword index of {count:,} passage{'' if count == 1 else 's'}…"):
        assistant.retriever.keyword.snapshot()


def _cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    assistant = open_assistant(args, create=False)
    _prepare_keyword_index(assistant)
    answer = _print_stream(assistant.ask_stream(args.question, k=args.k, strict=args.strict, sources=args.sources),
                           out, not args.json and _streams(assistant))
    if args.json:
        out.write(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(format_answer(answer) + "\n")
    return EXIT_OK


def _cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    assistant = open_assistant(args, create=False)
    _prepare_keyword_index(assistant)
    session = assistant.chat()
    out.write("Ask about your documents. Empty line or Ctrl-D quits; /new starts over.\n")
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        if question == "/new":
            session.reset()
            out.write("(a new conversation: follow-ups no longer use the earlier questions)\n")
            continue
        try:
            answer = _print_stream(session.ask_stream(question, k=args.k, strict=args.strict, sources=args.sources),
                                   out, _streams(assistant))
        except KeyboardInterrupt:  # stops this answer, not the conversation (Ctrl-C at the prompt still quits)
            out.write("\n(answer stopped; it is not part of the conversation)\n\n")
            continue
        if answer.understood_as:  # a follow-up as it was understood: a wrong guess is seen
            out.write(f"(understood as: {printable(answer.understood_as)})\n")
        out.write(format_answer(answer) + "\n\n")
    return EXIT_OK


def _cmd_sources(args: argparse.Namespace, out: TextIO) -> int:
    sources = open_assistant(args, create=False).sources()
    if not sources:  # an empty listing reads as a broken command
        print("the index holds no files yet; add some with 'rag ingest PATH'", file=sys.stderr)
    if args.json:
        out.write(json.dumps(sources, indent=2) + "\n")
    else:
        for source, count in sources.items():
            out.write(f"{count:6d}  {printable(source)}\n")
    return EXIT_OK


def _cmd_remove(args: argparse.Namespace, out: TextIO) -> int:
    assistant = open_assistant(args, create=False)
    removed = assistant.remove(args.source)
    if removed:
        out.write(f"removed {removed} chunk{'s' if removed != 1 else ''} of {printable(args.source)}\n")
        return EXIT_OK
    # A folder removes every indexed file under it, as 'rag ingest FOLDER' added them (it was "not in the index").
    folder = Path(args.source).expanduser().resolve()
    under = [source for source in assistant.sources() if folder in Path(source).parents]
    if not under:
        raise CommandError(f"{args.source} is not in the index, nor any file under it (see 'rag sources')")
    removed = sum(assistant.remove(source) for source in under)
    out.write(f"removed {removed} chunk{'s' if removed != 1 else ''} of {len(under)} "
              f"file{'s' if len(under) != 1 else ''} under {printable(str(folder))}\n")
    return EXIT_OK


def _cmd_repair(args: argparse.Namespace, out: TextIO) -> int:
    report = open_assistant(args, create=False).repair()
    if args.json:
        out.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return EXIT_OK
    if not (report.chunks_damaged or report.sentences_damaged):
        out.write("every vector index reads: nothing to repair\n")
    else:
        rebuilt = [name for name, bad in (("passages", report.chunks_damaged), ("sentences", report.sentences_damaged))
                   if bad]
        out.write(f"rebuilt the vectors of the {' and '.join(rebuilt)} from the stored text: "
                  f"{report.chunks_reembedded} passages and {report.sentences_written} sentences embedded again "
                  f"({report.seconds:.1f} s)\n")
    if report.leftovers_removed:
        out.write(f"deleted {len(report.leftovers_removed)} folder(s) of unreadable vectors a stopped repair had "
                  f"left ({', '.join(report.leftovers_removed)}; {report.leftover_bytes / 1e6:.1f} MB)\n")
    return EXIT_OK


def _cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    from rag.doctor import run_checks

    ok = True
    for check in run_checks(settings_from(args)):
        ok &= check.ok
        out.write(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}\n")
    return EXIT_OK if ok else EXIT_PARTIAL


# ---- parser and entry point --------------------------------------------------------------------

Handler = Callable[[argparse.Namespace, TextIO], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Answers from your own documents, every sentence "
                                     "cited and every citation checked.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ingest", help="index files and folders (idempotent)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--prune", action="store_true", help="remove indexed files that no longer exist under PATHs")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    p.add_argument("--verbose", action="store_true", help="print each file as it is written or fails (stderr)")
    add_common_options(p)
    p.set_defaults(handler=_cmd_ingest)

    p = sub.add_parser("ask", help="answer one question with checked citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    add_source_option(p)
    add_common_options(p)
    add_answer_options(p)
    p.set_defaults(handler=_cmd_ask, short_lived=True)  # one answer, then the process exits

    p = sub.add_parser("chat", help="chat in the terminal (follow-up questions use the history)")
    add_source_option(p)
    add_common_options(p)
    add_answer_options(p)
    p.set_defaults(handler=_cmd_chat)

    p = sub.add_parser("sources", help="list indexed files with their chunk counts")
    p.add_argument("--json", action="store_true")
    add_common_options(p)
    p.set_defaults(handler=_cmd_sources)

    p = sub.add_parser("remove", help="remove a file, or every file under a folder, from the index")
    p.add_argument("source", help="a file as listed by 'rag sources', or a folder")
    add_common_options(p)
    p.set_defaults(handler=_cmd_remove)

    p = sub.add_parser("repair", help="rebuild an unreadable vector index from the stored passages (no files read)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_common_options(p)
    p.set_defaults(handler=_cmd_repair)

    p = sub.add_parser("doctor", help="check that everything works offline (nothing will be downloaded)")
    add_common_options(p)
    add_answer_options(p)
    p.set_defaults(handler=_cmd_doctor)

    for entry in entry_points(group="rag.commands"):
        entry.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    short_lived = getattr(args, "short_lived", False)
    if short_lived:  # ``rag.short_lived``: the collector only costs time in a process that answers once
        skip_final_collection()
    try:
        with collector_paused() if short_lived else nullcontext():
            return handler(args, out)
    except RagError as exc:  # a problem the user can fix: its sentence, no traceback; anything else is a bug
        print(f"rag {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> None:
    """The ``rag`` command: ``main`` with the process's arguments, then exit with its status.

    After Ctrl-C with a local GGUF model loaded, the process ends at once (``os._exit``, output
    flushed): llama.cpp's in-process server is torn down by Python's exit while it may still be
    reading the prompt, which crashed the process after "interrupted" (segmentation fault, exit 139,
    in 6 of 8 tries). Nothing is left to finish: answering writes nothing, and an interrupted ingest
    has said what it kept."""
    code = main()
    from rag.llm import gguf

    if code == EXIT_INTERRUPTED and gguf.running():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
